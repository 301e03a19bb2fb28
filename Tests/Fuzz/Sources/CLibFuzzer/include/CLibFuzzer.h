// libFuzzer's driver entry point (compiler-rt, linked by -sanitize=fuzzer). SwiftPM links an
// executable's entry point as `<Target>_main`, so libFuzzer's own `main` is never used: the
// fuzz binary's `TokenGateFuzz_main` calls this instead.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
