; Multiboot (v1) entry for the tickwire bare-metal kernel.
;
; QEMU's -kernel loader understands multiboot v1 ELF32 images and enters here in
; 32-bit protected mode with flat 4 GiB segments, paging off and interrupts disabled,
; which is all the spin-poll kernel needs: physical addresses are virtual addresses,
; so DMA descriptors can point straight at kernel buffers.
bits 32

MB_MAGIC    equ 0x1BADB002
MB_FLAGS    equ 0x00000003          ; page-align modules, provide memory information
MB_CHECKSUM equ -(MB_MAGIC + MB_FLAGS)

section .multiboot
align 4
    dd MB_MAGIC
    dd MB_FLAGS
    dd MB_CHECKSUM

section .bss
align 16
stack_bottom:
    resb 65536
stack_top:

section .text
global _start
extern kmain
_start:
    cli
    mov esp, stack_top
    xor ebp, ebp
    cld
    push ebx                        ; multiboot information pointer
    push eax                        ; multiboot magic
    call kmain
.hang:                              ; kmain never returns; if it did, stop here
    cli
    hlt
    jmp .hang
