// The test harness of a deploybench firmware: reads inputs from the host (semihosting) until none is left, runs
// the model on each between two readings of the emulated clock, writes the outputs and a report back.
#include <cstdint>
#include <cstdio>

#include "@HEADER@"

extern "C" {
void db_clock_start(void);
uint64_t db_ticks(void);
uint64_t db_calibrate(uint32_t loops);
uint32_t db_stack_used(void);
}

static @INPUT_TYPE@ input[@INPUT_SIZE@];

int main() {
    FILE *in = fopen("inputs.bin", "rb");
    FILE *out = fopen("outputs.bin", "wb");
    FILE *report = fopen("report.txt", "w");
    if (in == nullptr || out == nullptr || report == nullptr) {
        return 10;
    }
    db_clock_start();
    fprintf(report, "calibration %lu %llu\n", (unsigned long)@CALIBRATION@,
            (unsigned long long)db_calibrate(@CALIBRATION@));
    uint64_t before = db_ticks();
    fprintf(report, "empty %llu\n", (unsigned long long)(db_ticks() - before));
    for (int i = 0; fread(input, sizeof(input[0]), @INPUT_SIZE@, in) == @INPUT_SIZE@; ++i) {
@OUTPUT_DECLARATIONS@
        uint64_t start = db_ticks();
        @CALL@;
        uint64_t end = db_ticks();
@OUTPUT_WRITES@
        fprintf(report, "inference %d %llu\n", i, (unsigned long long)(end - start));
    }
    fprintf(report, "stack %lu\n", (unsigned long)db_stack_used());
    fclose(in);
    fclose(out);
    fclose(report);
    return 0;
}
