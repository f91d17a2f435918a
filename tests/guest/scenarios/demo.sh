# The non-interactive demo: what the guest sees, then power off (reboot).
echo "Hello from a kiln guest."
echo "kernel:  $(uname -sr)"
echo "cpus:    $(grep -c ^processor /proc/cpuinfo) ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1))"
echo "memory:  $(sed -n 's/^MemTotal: *//p' /proc/meminfo)"
echo "uptime:  $(cut -d' ' -f1 /proc/uptime) s since the kernel started"
echo "cmdline: $(cat /proc/cmdline)"
