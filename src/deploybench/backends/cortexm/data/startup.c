/* Bare-metal start of a deploybench firmware on an Arm Cortex-M: vector table, FPU on, .data copied from flash, .bss cleared, the stack
   painted so that its peak use can be read back, semihosting opened, main() run, its status returned to the
   host by semihosting exit. A fault ends the run with status 3. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STACK_PAINT 0xDB5EED5Au

extern uint32_t __stack_top, __stack_limit, __bss_start__, __bss_end__, __data_start__, __data_end__, __data_load__;
extern void initialise_monitor_handles(void);
extern int main(void);

void Reset_Handler(void);
volatile uint32_t db_systick_wraps;

void db_fault(void) { exit(3); }
void db_systick(void) { db_systick_wraps++; }
void _init(void) {}
void _fini(void) {}

__attribute__((section(".vectors"), used)) void (*const db_vectors[16])(void) = {
    (void (*)(void))&__stack_top, Reset_Handler, db_fault, db_fault, db_fault, db_fault, db_fault,
    0, 0, 0, 0, db_fault, db_fault, 0, db_fault, db_systick,
};

__attribute__((noinline)) static void paint_stack(void) {
    uint32_t *low = &__stack_limit;
    uint32_t *here = (uint32_t *)__builtin_frame_address(0) - 64;
    while (low < here) *low++ = STACK_PAINT;
}

uint32_t db_stack_used(void) {
    const uint32_t *low = &__stack_limit;
    while (low < &__stack_top && *low == STACK_PAINT) low++;
    return (uint32_t)((const char *)&__stack_top - (const char *)low);
}

void Reset_Handler(void) {
    *(volatile uint32_t *)0xE000ED88 |= (0xFu << 20); /* CPACR: CP10 and CP11 full access: the FPU */
    __asm volatile("dsb\n isb");
    memcpy(&__data_start__, &__data_load__, (size_t)((char *)&__data_end__ - (char *)&__data_start__));
    memset(&__bss_start__, 0, (size_t)((char *)&__bss_end__ - (char *)&__bss_start__));
    paint_stack();
    initialise_monitor_handles();
    exit(main());
}
