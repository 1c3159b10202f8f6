#ifndef C_FUZZ_DRIVER_H
#define C_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// The harness's test function, as libFuzzer calls it.
typedef int (*greylist_fuzz_callback)(const uint8_t *data, size_t size);

/// Runs libFuzzer's driver (from the -sanitize=fuzzer runtime) on `callback`. SwiftPM names an
/// executable's entry point <Target>_main, so each harness defines that and calls this.
int greylist_fuzz_run(int argc, char **argv, greylist_fuzz_callback callback);

#endif
