#include "textflag.h"

// func prefetchRecord(p unsafe.Pointer)
TEXT ·prefetchRecord(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 0(AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	RET

// func prefetchLines(p unsafe.Pointer, lines uint64): into L2, see the Go
// declaration.
TEXT ·prefetchLines(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ lines+8(FP), BX
loop:
	TESTQ BX, BX
	JZ done
	BSFQ BX, CX
	MOVQ CX, DX
	SHLQ $6, DX
	PREFETCHT1 (AX)(DX*1)
	BTRQ CX, BX
	JMP loop
done:
	RET

// func prefetchLine(p unsafe.Pointer)
TEXT ·prefetchLine(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 0(AX)
	RET
