/* The emulated clock: SysTick on the processor clock, 24 bits, extended by counting its wraps. Under QEMU's
   `-icount shift=0` the virtual time advances by one nanosecond per instruction, so ticks count instructions
   in steps the calibration loop measures. */
#include <stdint.h>

#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)

extern volatile uint32_t db_systick_wraps;

void db_clock_start(void) {
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 7; /* processor clock, interrupt on wrap, enabled */
    while (SYST_CVR == 0) {}
    db_systick_wraps = 0;
}

uint64_t db_ticks(void) {
    uint32_t wraps, value;
    do {
        wraps = db_systick_wraps;
        value = SYST_CVR;
    } while (wraps != db_systick_wraps);
    return (uint64_t)wraps * 0x1000000u + (0xFFFFFFu - value);
}

uint64_t db_calibrate(uint32_t loops) {
    uint64_t start = db_ticks();
    __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(loops)); /* two instructions a loop */
    return db_ticks() - start;
}
