#include "textflag.h"

// func prefetch(p *uint64)
TEXT ·prefetch(SB), NOSPLIT, $0-8
	MOVQ      p+0(FP), AX
	PREFETCHT1 (AX)
	RET
