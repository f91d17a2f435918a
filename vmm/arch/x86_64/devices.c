/* SPDX-License-Identifier: MIT */
/*
 * The legacy PC devices of an x86 kiln VM: COM1 (16550A at 0x3f8, IRQ 4)
 * wired to the terminal, the i8042 (0x60/0x64, IRQ 1) whose reset line
 * ends the VM, and the CMOS RTC (0x70/0x71). Everything else on the ISA port space stays unclaimed:
 * reads return all-ones, which is what a guest expects of an empty slot.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../devices/console.h"
#include "../../devices/i8042.h"
#include "../../base/irq.h"
#include "../../base/log.h"
#include "../../base/pci.h"
#include "../../devices/rtc.h"
#include "../../devices/acpi_pm.h"
#include "../../devices/serial.h"
#include "../../machine/vm.h"
#include "../arch.h"
#include "layout.h"

#define COM1_PORT 0x3f8
#define COM1_IRQ 4
#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12
#define RTC_INDEX_PORT 0x70
#define RTC_DATA_PORT 0x71

/* Owned by the VM; reached from device callbacks through opaque. */
struct x86_platform {
	struct vm *vm;
	struct rtc rtc;
	struct acpi_pm pm;
	bool pm_ready;
	struct irq_line sci;
	struct console console;
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
	acpi_pm_init(&p->pm, &cb);
	p->pm_ready = true;
	return bus_register(&vm->pio, ACPI_PM_IO_BASE, ACPI_PM_IO_LEN, acpi_pm_io,
			    &p->pm, "ACPI PM", e);
}

int arch_request_shutdown(struct vm *vm)
{
	struct x86_platform *p = vm->arch;
	/* Like a keyboard's ctrl-alt-del (init decides what it means) and,
	 * with ACPI, like pressing the power button (acpid/logind act on it). */
	int rc = i8042_send_ctrl_alt_del(vm->i8042);
	if (p->pm_ready && acpi_pm_press_power_button(&p->pm))
		rc = 0;
	return rc;
}

static void console_quit(void *opaque)
{
	vm_request_exit(opaque, VM_EXIT_USER_QUIT, 0);
}

static int setup_serial(struct vm *vm, struct x86_platform *p, struct err *e)
{
	int rc = irq_line_init(vm->vm_fd, &p->com1_irq, COM1_IRQ, e);
	if (rc)
		return rc;
	const struct serial_callbacks cb = {
		.opaque = p, .tx = com1_tx, .irq = com1_set_irq,
		.rx_ready = com1_rx_ready,
	};
	rc = serial_create(&cb, &vm->serial, e);
	if (!rc)
		rc = bus_register(&vm->pio, COM1_PORT, 8, serial_io, vm->serial,
				  "COM1", e);
	/* One reader of stdin: the virtio console when it is on stdio. */
	int in_fd = vm_console_uses_stdin(vm->cfg) ? -1 : STDIN_FILENO;
	if (!rc)
		rc = console_init(&p->console, vm->loop, vm->serial, in_fd,
				  STDOUT_FILENO, console_quit, vm, e);
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
	rc = i8042_create(&cb, &vm->i8042, e);
	if (!rc)
		rc = bus_register(&vm->pio, I8042_DATA_PORT, 1, i8042_data_io,
				  vm->i8042, "i8042 data", e);
	if (!rc)
		rc = bus_register(&vm->pio, I8042_CMD_PORT, 1, i8042_cmd_io,
				  vm->i8042, "i8042 command", e);
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
	return pci_root_register_ports(root, &vm->pio, e);
}

int arch_devices_init(struct vm *vm, struct err *e)
{
	struct x86_platform *p = calloc(1, sizeof(*p));
	if (!p)
		return err_set(e, -ENOMEM, "out of memory");
	p->vm = vm;
	vm->arch = p;
	rtc_init(&p->rtc);
	int rc = bus_register(&vm->pio, RTC_INDEX_PORT, 1, rtc_index_io, &p->rtc,
			      "RTC index", e);
	if (!rc)
		rc = bus_register(&vm->pio, RTC_DATA_PORT, 1, rtc_data_io, &p->rtc,
				  "RTC data", e);
	if (!rc)
		rc = setup_serial(vm, p, e);
	if (!rc)
		rc = setup_i8042(vm, p, e);
	if (!rc && vm->cfg->acpi)
		rc = setup_acpi_pm(vm, p, e);
	return rc;
}

void arch_devices_destroy(struct vm *vm)
{
	struct x86_platform *p = vm->arch;
	if (!p)
		return;
	console_fini(&p->console);
	serial_destroy(vm->serial);
	i8042_destroy(vm->i8042);
	irq_line_fini(&p->com1_irq);
	irq_line_fini(&p->kbd_irq);
	irq_line_fini(&p->aux_irq);
	rtc_fini(&p->rtc);
	if (p->pm_ready)
		acpi_pm_fini(&p->pm);
	irq_line_fini(&p->sci);
	free(p);
	vm->arch = NULL;
	vm->serial = NULL;
	vm->i8042 = NULL;
}
