#ifndef C_FUZZ_DRIVER_H
#define C_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (from the -sanitize=fuzzer runtime). SwiftPM names an executable's entry
/// point <Target>_main, so each harness defines that and hands libFuzzer its callback here.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
