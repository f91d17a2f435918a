# Boot benchmark: nothing to do; /init prints KILN-RESULT and reboots.
true
