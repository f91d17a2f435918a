# virtio-rng check for t_32: /dev/hwrng serves data from the virtio-rng device.
echo "KILN-RNG-CURRENT $(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
n=$(dd if=/dev/hwrng bs=4096 count=1 2>/dev/null | wc -c)
echo "KILN-RNG-BYTES $n"
a=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | sha256sum)
b=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | sha256sum)
if [ "$a" != "$b" ]; then echo "KILN-RNG-DIFFERS"; fi
