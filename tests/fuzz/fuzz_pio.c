/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the port-I/O side of the machine, wired as
 * vmm/arch/x86_64/devices.c wires it but without KVM: COM1 (16550A at
 * 0x3f8, its host console on pipes), the i8042 (0x60/0x64), the CMOS RTC
 * (0x70/0x71) and the ACPI PM block (0x600) on the real PIO bus, plus the
 * PCI root's CONFIG_ADDRESS/CONFIG_DATA ports (0xcf8/0xcfc) in front of a
 * virtio-pci function (virtio-rng) with MSI-X, whose BAR 0 (common config,
 * MSI-X table and PBA) is reachable on the MMIO bus. Interrupt lines and
 * the reset/power-off callbacks are counted, not acted on.
 *
 * Input: operations, each an opcode byte and its arguments (missing bytes
 * read as 0):
 *   0 port write   u8 port index (PORTS below; >= its size: u16 raw port
 *                  follows), u8 log2 len (1-4), u32 value
 *   1 port read    u8 port index (or raw), u8 log2 len
 *   2 BAR write    u16 offset (mod BAR size), u8 log2 len (1-8), u64 value
 *   3 BAR read     u16 offset, u8 log2 len
 *   4 run loop     (non-blocking, at most 4 rounds)
 *   5 host input   u8 n, n bytes typed on COM1's console
 *   6 host events  u8: bit 0 ctrl-alt-del on the i8042, bit 1 the ACPI
 *                  power button
 *   7 config cycle u8 slot, u8 register, u8 log2 len, u32 value, u8 write:
 *                  CONFIG_ADDRESS then CONFIG_DATA, as a guest does
 * At most MAX_OPS operations; everything is built and freed per input.
 *
 * Build and run: tests/fuzz/run.sh fuzz_pio.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fakes/vpci_machine.h"
#include "virtio/rng.h"
#include "vmm/base/log.h"
#include "vmm/devices/acpi_pm_dev.h"
#include "vmm/devices/console.h"
#include "vmm/devices/i8042_dev.h"
#include "vmm/devices/rtc_dev.h"
#include "vmm/devices/serial_dev.h"
#include "fuzz_input.h"

#define RAM_LEN 0x10000u
#define BAR_SIZE 0x8000u
#define MAX_OPS 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ram[RAM_LEN] __attribute__((aligned(4096)));

/* The ports a guest finds something at, then some next to them. */
static const uint16_t ports[] = {
	0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, /* COM1 */
	0x60, 0x64,                                             /* i8042 */
	0x70, 0x71,                                             /* RTC */
	0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x606, 0x607, /* ACPI PM */
	0x608, 0x609, 0x60a, 0x60b, 0x60c, 0x60d, 0x60e, 0x60f,
	0xcf8, 0xcf9, 0xcfa, 0xcfb, 0xcfc, 0xcfd, 0xcfe, 0xcff, /* PCI */
	0x3f7, 0x400, 0x5ff, 0x610, 0xcf7, 0xd00, 0x61, 0x72,
};
#define NR_PORTS (sizeof(ports) / sizeof(ports[0]))


static struct {
	struct vpci_machine m;
	struct virtio_pci_platform plat; /* the transport keeps a pointer */
	struct console console;
	struct serial_dev *com1;
	struct i8042_dev *kbc;
	struct rtc_dev *rtc;
	struct acpi_pm_dev *pm;
	struct virtio_pci *vp;
	uint64_t bar0;
	int fds[4]; /* console input r/w, output r/w */
	unsigned irqs, resets, poweroffs;
} T;

static void com1_irq(void *o, bool level) { T.irqs += level; }
static void kbc_irq(void *o, unsigned irq, bool level) { T.irqs += level; }
static void pm_sci(void *o, bool level) { T.irqs += level; }
static void on_reset(void *o) { T.resets++; }
static void on_poweroff(void *o) { T.poweroffs++; }
static void on_quit(void *o) {}

static void build(void)
{
	struct err e = { 0 };
	memset(&T, 0, sizeof(T));
	memset(ram, 0, sizeof(ram));
	if (vpm_init(&T.m, ram, RAM_LEN, &T.plat))
		abort();
	struct virtio_rng *rng;
	if (rng_create(&T.m.gm, T.m.loop, &rng, &e) ||
	    virtio_pci_create(rng_vdev(rng), "rng0", &T.m.root, &T.plat, &T.vp, &e))
		abort();
	T.bar0 = pci_device_bar_addr(&T.vp->pci, 0);

	const struct serial_callbacks scb = {
		.opaque = &T.console, .tx = console_tx, .irq = com1_irq,
		.rx_ready = console_rx_ready,
	};
	const struct aml_isa_res sres = { 1, { { 0x3f8, 8 } }, 4 };
	if (serial_dev_create("com1", "COM1", 1, &sres, &scb, &T.com1, &e) ||
	    bus_register(&T.m.pio, 0x3f8, 8, serial_io, T.com1->uart, "COM1", &e))
		abort();
	if (pipe2(T.fds, O_NONBLOCK | O_CLOEXEC) || pipe2(T.fds + 2, O_NONBLOCK | O_CLOEXEC))
		abort();
	const struct chr_config cc = { .kind = CHR_FDS, .in_fd = T.fds[0], .out_fd = T.fds[3] };
	if (console_init(&T.console, T.m.loop, T.com1->uart, &cc, true, on_quit, NULL, &e))
		abort();

	const struct i8042_callbacks kcb = { .irq = kbc_irq, .reset = on_reset };
	const struct aml_isa_res kres = { 2, { { 0x60, 1 }, { 0x64, 1 } }, 1 };
	if (i8042_dev_create("i8042", &kres, &kcb, &T.kbc, &e) ||
	    bus_register(&T.m.pio, 0x60, 1, i8042_data_io, T.kbc->kbc, "i8042 data", &e) ||
	    bus_register(&T.m.pio, 0x64, 1, i8042_cmd_io, T.kbc->kbc, "i8042 cmd", &e))
		abort();

	const struct aml_isa_res rres = { 1, { { 0x70, 2 } }, 8 };
	if (rtc_dev_create("rtc", &rres, &T.rtc, &e) ||
	    bus_register(&T.m.pio, 0x70, 1, rtc_index_io, &T.rtc->rtc, "RTC index", &e) ||
	    bus_register(&T.m.pio, 0x71, 1, rtc_data_io, &T.rtc->rtc, "RTC data", &e))
		abort();

	const struct acpi_pm_callbacks pcb = {
		.sci = pm_sci, .poweroff = on_poweroff, .reset = on_reset,
	};
	if (acpi_pm_dev_create("acpi-pm", &pcb, &T.pm, &e) ||
	    bus_register(&T.m.pio, ACPI_PM_IO_BASE, ACPI_PM_IO_LEN, acpi_pm_io,
			 &T.pm->pm, "ACPI PM", &e))
		abort();
}

static void teardown(void)
{
	console_fini(&T.console);
	T.vp->dev.ops->destroy(&T.vp->dev);
	T.com1->dev.ops->destroy(&T.com1->dev);
	T.kbc->dev.ops->destroy(&T.kbc->dev);
	T.rtc->dev.ops->destroy(&T.rtc->dev);
	T.pm->dev.ops->destroy(&T.pm->dev);
	for (int i = 0; i < 4; i++)
		close(T.fds[i]);
	vpm_fini(&T.m);
}

static void port_io(uint16_t port, unsigned len, uint32_t *v, bool wr)
{
	uint8_t buf[4];
	memcpy(buf, v, 4);
	if (!bus_dispatch(&T.m.pio, port, buf, len, wr) && !wr)
		memset(buf, 0xff, 4);
	memcpy(v, buf, 4);
}

static uint16_t pick_port(struct input *in)
{
	unsigned i = (unsigned)take(in, 1);
	return i < NR_PORTS ? ports[i] : (uint16_t)take(in, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	log_set_level(LOG_ERROR);
	build();
	for (unsigned n = 0; in.left && n < MAX_OPS; n++) {
		uint8_t op = (uint8_t)take(&in, 1);
		switch (op % 8) {
		case 0:
		case 1: {
			uint16_t port = pick_port(&in);
			unsigned len = 1u << (take(&in, 1) % 3);
			uint32_t v = op % 8 == 0 ? (uint32_t)take(&in, 4) : 0;
			port_io(port, len, &v, op % 8 == 0);
			break;
		}
		case 2:
		case 3: {
			uint64_t off = take(&in, 2) % BAR_SIZE;
			unsigned len = 1u << (take(&in, 1) & 3);
			uint8_t buf[8];
			uint64_t v = op % 8 == 2 ? take(&in, 8) : 0;
			memcpy(buf, &v, 8);
			bus_dispatch(&T.m.mmio, T.bar0 + off, buf, len, op % 8 == 2);
			break;
		}
		case 4:
			vpm_pump(&T.m, 4);
			break;
		case 5: {
			size_t n = (size_t)take(&in, 1);
			if (n > in.left)
				n = in.left;
			if (n)
				(void)!write(T.fds[1], in.p, n);
			in.p += n, in.left -= n;
			break;
		}
		case 6: {
			uint8_t ev = (uint8_t)take(&in, 1);
			if (ev & 1)
				i8042_send_ctrl_alt_del(T.kbc->kbc);
			if (ev & 2)
				acpi_pm_dev_press_power_button(T.pm);
			break;
		}
		case 7: {
			unsigned slot = (unsigned)take(&in, 1) & 31;
			unsigned reg = (unsigned)take(&in, 1);
			unsigned len = 1u << (take(&in, 1) % 3);
			uint32_t v = (uint32_t)take(&in, 4);
			bool wr = take(&in, 1) & 1;
			uint32_t addr = 0x80000000u | slot << 11 | (reg & 0xfc);
			port_io(0xcf8, 4, &addr, true);
			port_io((uint16_t)(0xcfc + (reg & 3 & ~(len - 1))), len, &v, wr);
			break;
		}
		}
	}
	vpm_pump(&T.m, 4);
	/* The host bridge is still where it was. */
	uint32_t addr = 0x80000000u, id = 0;
	port_io(0xcf8, 4, &addr, true);
	port_io(0xcfc, 4, &id, false);
	if (id == 0xffffffffu)
		abort();
	teardown();
	return 0;
}
