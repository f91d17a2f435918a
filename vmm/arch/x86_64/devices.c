/* SPDX-License-Identifier: MIT */
/*
 * The legacy PC devices of an x86 kiln VM, each one device on the VM's list:
 * COM1 (16550A at 0x3f8, IRQ 4) wired to the terminal, the i8042 (0x60/0x64,
 * IRQ 1) whose reset line ends the VM, the CMOS RTC (0x70/0x71, IRQ 8),
 * the ACPI PM block, the VM generation ID (its GPE on the PM block's GPE0)
 * and the PCI host bridge (its ACPI node and the PCI
 * root's own state, vmm/arch/x86_64/pci_host.c). Everything else on the
 * ISA port space stays unclaimed: reads return all-ones, which is what a
 * guest expects of an empty slot.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../base/irq.h"
#include "../../base/log.h"
#include "../../base/pci.h"
#include "../../devices/acpi_pm_dev.h"
#include "../../devices/console.h"
#include "../../devices/i8042_dev.h"
#include "../../devices/rtc_dev.h"
#include "../../devices/serial_dev.h"
#include "../../devices/vmgenid.h"
#include "../../machine/vm.h"
#include "../arch.h"
#include "layout.h"
#include "pci_host.h"

#define COM1_PORT 0x3f8
#define COM1_IRQ 4
#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12
#define RTC_INDEX_PORT 0x70
#define RTC_DATA_PORT 0x71
#define RTC_IRQ 8

/*
 * What the legacy devices' callbacks reach (opaque = this): interrupt lines,
 * the host console and the VM. Owned by the VM (vm->arch); it outlives the
 * devices on the list, which are destroyed first.
 */
struct x86_platform {
	struct vm *vm;
	struct serial_dev *com1;
	struct i8042_dev *kbc;
	struct acpi_pm_dev *pm; /* NULL without ACPI */
	struct irq_line sci;
	struct console console;
	bool console_ready;
	struct irq_line com1_irq;
	struct irq_line kbd_irq;
	struct irq_line aux_irq;
};

static void com1_set_irq(void *opaque, bool level)
{
	struct x86_platform *p = opaque;
	irq_line_set(&p->com1_irq, level);
}

static void com1_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct x86_platform *p = opaque;
	console_tx(&p->console, buf, len);
}

static void com1_rx_ready(void *opaque)
{
	struct x86_platform *p = opaque;
	console_rx_ready(&p->console);
}

static void com1_input_hold(void *opaque, bool hold)
{
	struct x86_platform *p = opaque;
	if (p->console_ready)
		console_hold(&p->console, hold);
}

static void i8042_set_irq(void *opaque, unsigned irq, bool level)
{
	struct x86_platform *p = opaque;
	irq_line_set(irq == I8042_AUX_IRQ ? &p->aux_irq : &p->kbd_irq, level);
}

static void platform_reset(void *opaque)
{
	struct x86_platform *p = opaque;
	/* Linux pulses the line up to ten times; report the first. */
	if (vm_request_exit(p->vm, VM_EXIT_GUEST_RESET, 0))
		log_info("guest pulsed the i8042 reset line");
}

static void pm_sci(void *opaque, bool level)
{
	struct x86_platform *p = opaque;
	irq_line_set(&p->sci, level);
}

static void pm_poweroff(void *opaque)
{
	struct x86_platform *p = opaque;
	if (vm_request_exit(p->vm, VM_EXIT_GUEST_POWEROFF, 0))
		log_info("guest powered off (ACPI S5)");
}

static void pm_reset(void *opaque)
{
	struct x86_platform *p = opaque;
	if (vm_request_exit(p->vm, VM_EXIT_GUEST_RESET, 0))
		log_info("guest reset through the ACPI reset register");
}

static void console_quit(void *opaque)
{
	vm_request_exit(opaque, VM_EXIT_USER_QUIT, 0);
}

static void vmgenid_changed(void *opaque)
{
	struct x86_platform *p = opaque;
	acpi_pm_raise_gpe(&p->pm->pm, X86_VMGENID_GPE);
}

/* The VM generation ID (needs ACPI: its node and its GPE). */
static int setup_vmgenid(struct vm *vm, struct x86_platform *p, struct err *e)
{
	struct vmgenid *vg;
	int rc = vmgenid_create("vmgenid", &vm->mem, X86_VMGENID_ADDR, X86_VMGENID_GPE,
				vmgenid_changed, p, &vg, e);
	return rc ? rc : vm_add_device(vm, &vg->dev, e);
}

/* The ACPI PM register block (power off, reset, power button, timer). */
static int setup_acpi_pm(struct vm *vm, struct x86_platform *p, struct err *e)
{
	int rc = irq_line_init(vm->vm_fd, &p->sci, ACPI_SCI_GSI, e);
	if (rc)
		return rc;
	const struct acpi_pm_callbacks cb = {
		.opaque = p, .sci = pm_sci, .poweroff = pm_poweroff,
		.reset = pm_reset,
	};
	rc = acpi_pm_dev_create("acpi-pm", &cb, &p->pm, e);
	if (!rc)
		rc = vm_add_device(vm, &p->pm->dev, e);
	if (rc) {
		p->pm = NULL;
		return rc;
	}
	return bus_register(&vm->pio, ACPI_PM_IO_BASE, ACPI_PM_IO_LEN, acpi_pm_io,
			    &p->pm->pm, "ACPI PM", e);
}

int arch_request_shutdown(struct vm *vm)
{
	struct x86_platform *p = vm->arch;
	/* Like a keyboard's ctrl-alt-del (init decides what it means) and,
	 * with ACPI, like pressing the power button (acpid/logind act on it). */
	int rc = i8042_send_ctrl_alt_del(p->kbc->kbc);
	if (p->pm && acpi_pm_dev_press_power_button(p->pm))
		rc = 0;
	return rc;
}

static int setup_serial(struct vm *vm, struct x86_platform *p,
			const struct chr_config *backend, bool input,
			struct err *e)
{
	int rc = irq_line_init(vm->vm_fd, &p->com1_irq, COM1_IRQ, e);
	if (rc)
		return rc;
	const struct serial_callbacks cb = {
		.opaque = p, .tx = com1_tx, .irq = com1_set_irq,
		.rx_ready = com1_rx_ready,
	};
	const struct aml_isa_res res = { 1, { { COM1_PORT, 8 } }, COM1_IRQ };
	rc = serial_dev_create("com1", "COM1", 1, &res, &cb, &p->com1, e);
	if (!rc)
		rc = vm_add_device(vm, &p->com1->dev, e);
	if (rc) {
		p->com1 = NULL;
		return rc;
	}
	p->com1->input_hold = com1_input_hold;
	p->com1->input_opaque = p;
	rc = bus_register(&vm->pio, COM1_PORT, 8, serial_io, p->com1->uart,
			  "COM1", e);
	if (!rc)
		rc = console_init(&p->console, vm->loop, p->com1->uart, backend,
				  input, console_quit, vm, e);
	p->console_ready = !rc;
	if (!rc && console_path(&p->console)[0])
		p->com1->dev.host_path = console_path(&p->console);
	return rc;
}

static int setup_i8042(struct vm *vm, struct x86_platform *p, struct err *e)
{
	int rc = irq_line_init(vm->vm_fd, &p->kbd_irq, I8042_KBD_IRQ, e);
	if (!rc)
		rc = irq_line_init(vm->vm_fd, &p->aux_irq, I8042_AUX_IRQ, e);
	if (rc)
		return rc;
	const struct i8042_callbacks cb = {
		.opaque = p, .irq = i8042_set_irq, .reset = platform_reset,
	};
	const struct aml_isa_res res = {
		2, { { I8042_DATA_PORT, 1 }, { I8042_CMD_PORT, 1 } }, I8042_KBD_IRQ
	};
	rc = i8042_dev_create("i8042", &res, &cb, &p->kbc, e);
	if (!rc)
		rc = vm_add_device(vm, &p->kbc->dev, e);
	if (rc) {
		p->kbc = NULL;
		return rc;
	}
	rc = bus_register(&vm->pio, I8042_DATA_PORT, 1, i8042_data_io,
			  p->kbc->kbc, "i8042 data", e);
	if (!rc)
		rc = bus_register(&vm->pio, I8042_CMD_PORT, 1, i8042_cmd_io,
				  p->kbc->kbc, "i8042 command", e);
	return rc;
}

static int setup_rtc(struct vm *vm, struct err *e)
{
	const struct aml_isa_res res = { 1, { { RTC_INDEX_PORT, 2 } }, RTC_IRQ };
	struct rtc_dev *rd;
	int rc = rtc_dev_create("rtc", &res, &rd, e);
	if (!rc)
		rc = vm_add_device(vm, &rd->dev, e);
	if (rc)
		return rc;
	rc = bus_register(&vm->pio, RTC_INDEX_PORT, 1, rtc_index_io, &rd->rtc,
			  "RTC index", e);
	if (!rc)
		rc = bus_register(&vm->pio, RTC_DATA_PORT, 1, rtc_data_io, &rd->rtc,
				  "RTC data", e);
	return rc;
}

int arch_pci_init(struct vm *vm, struct pci_root *root, struct err *e)
{
	/* BARs go in the 32-bit hole below the IOAPIC; the e820 map leaves
	 * it out of RAM. The I/O window is unused by virtio (MMIO BARs). */
	const struct pci_window win = {
		.mmio_base = X86_PCI_MMIO_BASE,
		.mmio_size = X86_PCI_MMIO_SIZE,
		.io_base = X86_PCI_IO_BASE,
		.io_size = X86_PCI_IO_SIZE,
	};
	int rc = pci_root_init(root, &vm->mmio, &vm->pio, &win, e);
	if (rc)
		return rc;
	vm->pci_ready = true;
	rc = pci_root_register_ports(root, &vm->pio, e);
	const struct pci_host_windows hw = {
		.mmio_base = X86_PCI_MMIO_BASE, .mmio_size = X86_PCI_MMIO_SIZE,
		.io_base = X86_PCI_IO_BASE, .io_size = X86_PCI_IO_SIZE,
	};
	struct device *host;
	if (!rc)
		rc = pci_host_create(root, &hw, &host, e);
	if (!rc)
		rc = vm_add_device(vm, host, e);
	return rc;
}

int arch_devices_init(struct vm *vm, const struct chr_config *serial,
		      bool serial_input, bool acpi, struct err *e)
{
	struct x86_platform *p = calloc(1, sizeof(*p));
	if (!p)
		return err_set(e, -ENOMEM, "out of memory");
	p->vm = vm;
	vm->arch = p;
	int rc = setup_rtc(vm, e);
	if (!rc)
		rc = setup_serial(vm, p, serial, serial_input, e);
	if (!rc)
		rc = setup_i8042(vm, p, e);
	if (!rc && acpi)
		rc = setup_acpi_pm(vm, p, e);
	if (!rc && acpi)
		rc = setup_vmgenid(vm, p, e);
	return rc;
}

void arch_devices_destroy(struct vm *vm)
{
	struct x86_platform *p = vm->arch;
	if (!p)
		return;
	if (p->console_ready)
		console_fini(&p->console);
	irq_line_fini(&p->com1_irq);
	irq_line_fini(&p->kbd_irq);
	irq_line_fini(&p->aux_irq);
	irq_line_fini(&p->sci);
	free(p);
	vm->arch = NULL;
}
