//go:build amd64 && !purego

#include "textflag.h"

// func distsSIMD(x *float64, rows *int32, n, d int, ct *float64, groups int, out *float64)
//
// For each row and each group of 8 centres, two YMM accumulators hold the 8
// running sums; each dimension t broadcasts x_t, subtracts the 8 centre
// values and adds the squares with one FMA per 4 centres: the canonical
// order of kernel.go, lane by lane. The rows are x[0..n) in order when rows
// is nil, else x[rows[0]], x[rows[1]], …. d ≥ 1, n ≥ 1, groups ≥ 1.
TEXT ·distsSIMD(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), R13
	MOVQ rows+8(FP), R12
	MOVQ n+16(FP), CX
	MOVQ d+24(FP), DX
	MOVQ ct+32(FP), R8
	MOVQ groups+40(FP), R9
	MOVQ out+48(FP), DI
	MOVQ DX, BX
	ANDQ $-2, BX // the even part of d, done two dimensions per step
	MOVQ DX, R14
	SHLQ $3, R14 // row size in bytes
	MOVQ R13, SI

row:
	TESTQ   R12, R12
	JZ      rowset
	MOVLQSX (R12), AX
	IMULQ   R14, AX
	LEAQ    (R13)(AX*1), SI
	ADDQ    $4, R12

rowset:
	MOVQ R8, R10
	MOVQ R9, R11

group:
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ   AX, AX
	CMPQ   AX, BX
	JGE    tail

pair:
	VBROADCASTSD (SI)(AX*8), Y0
	VBROADCASTSD 8(SI)(AX*8), Y5
	VSUBPD       (R10), Y0, Y1
	VSUBPD       32(R10), Y0, Y4
	VFMADD231PD  Y1, Y1, Y2
	VFMADD231PD  Y4, Y4, Y3
	VSUBPD       64(R10), Y5, Y6
	VSUBPD       96(R10), Y5, Y7
	VFMADD231PD  Y6, Y6, Y2
	VFMADD231PD  Y7, Y7, Y3
	ADDQ         $128, R10
	ADDQ         $2, AX
	CMPQ         AX, BX
	JLT          pair

tail:
	CMPQ         AX, DX
	JGE          store
	VBROADCASTSD (SI)(AX*8), Y0
	VSUBPD       (R10), Y0, Y1
	VSUBPD       32(R10), Y0, Y4
	VFMADD231PD  Y1, Y1, Y2
	VFMADD231PD  Y4, Y4, Y3
	ADDQ         $64, R10

store:
	VMOVUPD Y2, (DI)
	VMOVUPD Y3, 32(DI)
	ADDQ    $64, DI
	DECQ    R11
	JNZ     group

	ADDQ R14, SI
	DECQ CX
	JNZ  row

	VZEROUPPER
	RET

// func seedStepSIMD(out *float64, stride, n int, closest *float64, fold int, acc *[8]float64)
//
// The k-means++ step of kernel.go's seedStep for n rows of kernel output:
// with fold = 1, the row's closest distance first takes the minimum with
// its distance in lane 0 (the centre chosen last step); then lane t of acc
// adds min(closest, lane fold+t) for t < 8. Lanes past the candidates read
// whatever follows them (finite distances) and are ignored by the caller.
// VMINPD/VMINSD return the second operand on ties, the same bits as the
// first for distances, so this is minDist lane by lane.
TEXT ·seedStepSIMD(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), SI
	MOVQ stride+8(FP), R8
	SHLQ $3, R8
	MOVQ n+16(FP), CX
	MOVQ closest+24(FP), DI
	MOVQ fold+32(FP), DX
	MOVQ acc+40(FP), BX
	VMOVUPD (BX), Y2
	VMOVUPD 32(BX), Y3
	LEAQ    (SI)(DX*8), R9

sloop:
	VMOVSD (DI), X0
	TESTQ  DX, DX
	JZ     snofold
	VMINSD (SI), X0, X0
	VMOVSD X0, (DI)

snofold:
	VBROADCASTSD X0, Y0
	VMINPD       (R9), Y0, Y1
	VADDPD       Y1, Y2, Y2
	VMINPD       32(R9), Y0, Y4
	VADDPD       Y4, Y3, Y3
	ADDQ         R8, SI
	ADDQ         R8, R9
	ADDQ         $8, DI
	DECQ         CX
	JNZ          sloop

	VMOVUPD Y2, (BX)
	VMOVUPD Y3, 32(BX)
	VZEROUPPER
	RET

// func seedFusedSIMD(x *float64, n, d int, ct *float64, closest *float64, fold int, acc *[8]float64)
//
// distsSIMD for one group of centres and n rows x[0..n) in order, fused
// with seedStepSIMD so that the distances stay in registers: the row's 8
// distances are summed as in distsSIMD (the canonical order, lane by
// lane), with fold = 1 the closest distance takes the minimum with lane 0
// as in seedStepSIMD, and lane L of acc adds min(closest, lane L) for every
// L. Unlike seedStepSIMD the candidates are not shifted down by fold: the
// caller keeps candidate t's sum in lane fold+t, and lanes before fold or
// past the centres are scratch. The operand order of every min and add is
// seedStepSIMD's, so the bits are the same. d ≥ 1, n ≥ 1.
TEXT ·seedFusedSIMD(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ d+16(FP), DX
	MOVQ ct+24(FP), R8
	MOVQ closest+32(FP), DI
	MOVQ fold+40(FP), R11
	MOVQ acc+48(FP), BX
	VMOVUPD (BX), Y6
	VMOVUPD 32(BX), Y7
	MOVQ DX, R12
	ANDQ $-2, R12 // the even part of d, done two dimensions per step
	MOVQ DX, R14
	SHLQ $3, R14 // row size in bytes

frow:
	MOVQ   R8, R10
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ   AX, AX
	CMPQ   AX, R12
	JGE    ftail

fpair:
	VBROADCASTSD (SI)(AX*8), Y0
	VBROADCASTSD 8(SI)(AX*8), Y5
	VSUBPD       (R10), Y0, Y1
	VSUBPD       32(R10), Y0, Y4
	VFMADD231PD  Y1, Y1, Y2
	VFMADD231PD  Y4, Y4, Y3
	VSUBPD       64(R10), Y5, Y8
	VSUBPD       96(R10), Y5, Y9
	VFMADD231PD  Y8, Y8, Y2
	VFMADD231PD  Y9, Y9, Y3
	ADDQ         $128, R10
	ADDQ         $2, AX
	CMPQ         AX, R12
	JLT          fpair

ftail:
	CMPQ         AX, DX
	JGE          fstep
	VBROADCASTSD (SI)(AX*8), Y0
	VSUBPD       (R10), Y0, Y1
	VSUBPD       32(R10), Y0, Y4
	VFMADD231PD  Y1, Y1, Y2
	VFMADD231PD  Y4, Y4, Y3

fstep:
	VMOVSD (DI), X0
	TESTQ  R11, R11
	JZ     fnofold
	VMINSD X2, X0, X0 // min(closest, lane 0), lane 0 on ties: seedStepSIMD's order
	VMOVSD X0, (DI)

fnofold:
	VBROADCASTSD X0, Y0
	VMINPD       Y2, Y0, Y1
	VADDPD       Y1, Y6, Y6
	VMINPD       Y3, Y0, Y4
	VADDPD       Y4, Y7, Y7
	ADDQ         R14, SI
	ADDQ         $8, DI
	DECQ         CX
	JNZ          frow

	VMOVUPD Y6, (BX)
	VMOVUPD Y7, 32(BX)
	VZEROUPPER
	RET

// func seedPairSIMD(x *float64, n, d int, ct *float64, closestA, closestB *float64, folds int, accA, accB *[4]float64)
//
// seedFusedSIMD for two k-means++ jobs A and B of at most 4 candidates
// each, which share the rows' broadcasts and one vector for their pending
// centres: their 10 centres take 3 vectors a dimension where two
// seedFusedSIMD calls take 4. ct is pairLayout's: for each t, A's
// candidates, B's, then A's pending centre, B's and two of padding. Bit 0
// of folds is A's fold, bit 1 B's. Lane t of accA adds min(closestA, A's
// candidate t), in row order, with seedStepSIMD's operand order. d ≥ 1,
// n ≥ 1.
TEXT ·seedPairSIMD(SB), NOSPLIT, $0-72
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ d+16(FP), DX
	MOVQ ct+24(FP), R8
	MOVQ closestA+32(FP), DI
	MOVQ closestB+40(FP), R9
	MOVQ folds+48(FP), R11
	MOVQ accA+56(FP), BX
	MOVQ accB+64(FP), R13
	VMOVUPD (BX), Y6
	VMOVUPD (R13), Y7
	MOVQ DX, R12
	ANDQ $-2, R12 // the even part of d, done two dimensions per step
	MOVQ DX, R14
	SHLQ $3, R14 // row size in bytes

prow:
	MOVQ   R8, R10
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	XORQ   AX, AX
	CMPQ   AX, R12
	JGE    ptail

ppair:
	VBROADCASTSD (SI)(AX*8), Y0
	VBROADCASTSD 8(SI)(AX*8), Y8
	VSUBPD       (R10), Y0, Y1
	VFMADD231PD  Y1, Y1, Y2
	VSUBPD       32(R10), Y0, Y5
	VFMADD231PD  Y5, Y5, Y3
	VSUBPD       64(R10), Y0, Y9
	VFMADD231PD  Y9, Y9, Y4
	VSUBPD       96(R10), Y8, Y10
	VFMADD231PD  Y10, Y10, Y2
	VSUBPD       128(R10), Y8, Y11
	VFMADD231PD  Y11, Y11, Y3
	VSUBPD       160(R10), Y8, Y1
	VFMADD231PD  Y1, Y1, Y4
	ADDQ         $192, R10
	ADDQ         $2, AX
	CMPQ         AX, R12
	JLT          ppair

ptail:
	CMPQ         AX, DX
	JGE          pstep
	VBROADCASTSD (SI)(AX*8), Y0
	VSUBPD       (R10), Y0, Y1
	VFMADD231PD  Y1, Y1, Y2
	VSUBPD       32(R10), Y0, Y5
	VFMADD231PD  Y5, Y5, Y3
	VSUBPD       64(R10), Y0, Y9
	VFMADD231PD  Y9, Y9, Y4

pstep:
	VMOVSD (DI), X0
	TESTQ  $1, R11
	JZ     pnofoldA
	VMINSD X4, X0, X0 // min(closestA, lane 0), lane 0 on ties
	VMOVSD X0, (DI)

pnofoldA:
	VMOVSD    (R9), X1
	TESTQ     $2, R11
	JZ        pnofoldB
	VPERMILPD $1, X4, X5
	VMINSD    X5, X1, X1 // min(closestB, lane 1), lane 1 on ties
	VMOVSD    X1, (R9)

pnofoldB:
	VBROADCASTSD X0, Y0
	VMINPD       Y2, Y0, Y5
	VADDPD       Y5, Y6, Y6
	VBROADCASTSD X1, Y1
	VMINPD       Y3, Y1, Y9
	VADDPD       Y9, Y7, Y7
	ADDQ         R14, SI
	ADDQ         $8, DI
	ADDQ         $8, R9
	DECQ         CX
	JNZ          prow

	VMOVUPD Y6, (BX)
	VMOVUPD Y7, (R13)
	VZEROUPPER
	RET

// func hamerlyBoundsSIMD(lo, n, k int, labels *int32, upper, lower, move, shift, half *float64, up, down float64, rows *int32) int
//
// The first pass of hamerlyState.block over n rows (rows lo, lo+1, …):
// moves each row's bounds, u = (upper+move[a])·up and l = lower·down −
// shift[a] for its label a, stores them, and lists the row in rows when
// u ≥ max(half[a], l). Branch free: the list index advances by the
// comparison's flag. Returns the list length, or -1 at a label outside
// [0,k), before touching memory with it.
TEXT ·hamerlyBoundsSIMD(SB), NOSPLIT, $0-104
	MOVQ lo+0(FP), R11
	MOVQ n+8(FP), CX
	MOVQ k+16(FP), R15
	MOVQ labels+24(FP), R8
	MOVQ upper+32(FP), SI
	MOVQ lower+40(FP), DI
	MOVQ move+48(FP), R9
	MOVQ shift+56(FP), R10
	MOVQ half+64(FP), R12
	MOVSD up+72(FP), X6
	MOVSD down+80(FP), X7
	MOVQ rows+88(FP), R13
	XORQ DX, DX
	XORQ BX, BX

hloop:
	MOVLQSX (R8)(BX*4), AX
	CMPQ    AX, R15
	JAE     hbad
	MOVSD   (SI)(BX*8), X0
	ADDSD   (R9)(AX*8), X0
	MULSD   X6, X0
	MOVSD   (DI)(BX*8), X1
	MULSD   X7, X1
	SUBSD   (R10)(AX*8), X1
	MOVSD   X0, (SI)(BX*8)
	MOVSD   X1, (DI)(BX*8)
	LEAQ    (R11)(BX*1), R14
	MOVL    R14, (R13)(DX*4)
	MAXSD   (R12)(AX*8), X1
	XORL    R14, R14
	UCOMISD X1, X0
	SETCC   R14B
	ADDQ    R14, DX
	INCQ    BX
	CMPQ    BX, CX
	JLT     hloop

	MOVQ DX, ret+96(FP)
	RET

hbad:
	MOVQ $-1, ret+96(FP)
	RET

// Lane numbers and +Inf, for rescanSIMD's second-smallest search.
DATA laneLo<>+0(SB)/8, $0
DATA laneLo<>+8(SB)/8, $1
DATA laneLo<>+16(SB)/8, $2
DATA laneLo<>+24(SB)/8, $3
GLOBL laneLo<>(SB), RODATA|NOPTR, $32
DATA laneHi<>+0(SB)/8, $4
DATA laneHi<>+8(SB)/8, $5
DATA laneHi<>+16(SB)/8, $6
DATA laneHi<>+24(SB)/8, $7
GLOBL laneHi<>(SB), RODATA|NOPTR, $32
DATA posInf<>+0(SB)/8, $0x7ff0000000000000
GLOBL posInf<>(SB), RODATA|NOPTR, $8

// func rescanSIMD(x *float64, rows *int32, n, d int, ct *float64, bias *[8]float64, labels *int32, upper, lower *float64, prev *int32) (changed int)
//
// Hamerly's full scan for k ≤ 8 centres (one group of centres.ct): for
// each row (x[0..n) in order when rows is nil, else the listed rows), the
// 8 distances as in distsSIMD, plus bias (0 for real centres, +Inf for the
// padding), then the nearest centre j (lowest lane on ties), the smallest
// and second smallest distance d1 ≤ d2 (d2 = d1 on a tie), and it stores
// labels = j, upper = √d1, lower = √d2, counting changed labels; the r-th
// row's previous label goes to prev[r]. It is argmin2 and the bound update
// of hamerly.go, lane for lane.
TEXT ·rescanSIMD(SB), NOSPLIT, $0-88
	MOVQ         rows+8(FP), R12
	MOVQ         n+16(FP), CX
	MOVQ         ct+32(FP), R8
	MOVQ         bias+40(FP), R9
	MOVQ         labels+48(FP), R10
	MOVQ         upper+56(FP), R11
	MOVQ         lower+64(FP), DI
	VMOVUPD      (R9), Y8
	VMOVUPD      32(R9), Y9
	VBROADCASTSD posInf<>(SB), Y10
	VMOVDQU      laneLo<>(SB), Y11
	VMOVDQU      laneHi<>(SB), Y12
	MOVQ         prev+72(FP), R15 // after the global loads, which may use R15 when dynamic linking
	XORQ         R13, R13 // changed
	MOVQ         d+24(FP), BX
	MOVQ         BX, R14
	SHLQ         $3, R14 // row size in bytes
	ANDQ         $-2, BX // the even part of d
	MOVQ         x+0(FP), SI
	XORQ         R9, R9 // row index

rrow:
	TESTQ   R12, R12
	JZ      rseq
	MOVLQSX (R12), R9
	MOVQ    R9, AX
	IMULQ   R14, AX
	MOVQ    x+0(FP), SI
	ADDQ    AX, SI
	ADDQ    $4, R12

rseq:
	MOVQ   R8, AX // centre pointer
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ   DX, DX
	CMPQ   DX, BX
	JGE    rtail

rpair:
	VBROADCASTSD (SI)(DX*8), Y0
	VBROADCASTSD 8(SI)(DX*8), Y5
	VSUBPD       (AX), Y0, Y1
	VSUBPD       32(AX), Y0, Y4
	VFMADD231PD  Y1, Y1, Y2
	VFMADD231PD  Y4, Y4, Y3
	VSUBPD       64(AX), Y5, Y6
	VSUBPD       96(AX), Y5, Y7
	VFMADD231PD  Y6, Y6, Y2
	VFMADD231PD  Y7, Y7, Y3
	ADDQ         $128, AX
	ADDQ         $2, DX
	CMPQ         DX, BX
	JLT          rpair

rtail:
	CMPQ         DX, d+24(FP)
	JGE          rdone
	VBROADCASTSD (SI)(DX*8), Y0
	VSUBPD       (AX), Y0, Y1
	VSUBPD       32(AX), Y0, Y4
	VFMADD231PD  Y1, Y1, Y2
	VFMADD231PD  Y4, Y4, Y3

rdone:
	VADDPD Y8, Y2, Y2
	VADDPD Y9, Y3, Y3

	// d1 in every lane of Y4
	VMINPD  Y3, Y2, Y4
	VPERMPD $0x4E, Y4, Y5
	VMINPD  Y5, Y4, Y4
	VPERMPD $0xB1, Y4, Y5
	VMINPD  Y5, Y4, Y4

	// j: the lowest lane equal to d1
	VCMPPD    $0, Y4, Y2, Y5
	VMOVMSKPD Y5, AX
	VCMPPD    $0, Y4, Y3, Y5
	VMOVMSKPD Y5, DX
	SHLQ      $4, DX
	ORQ       DX, AX
	BSFQ      AX, AX

	// d2: the same with lane j set to +Inf
	MOVQ         AX, X5
	VPBROADCASTQ X5, Y5
	VPCMPEQQ     Y11, Y5, Y6
	VPCMPEQQ     Y12, Y5, Y7
	VBLENDVPD    Y6, Y10, Y2, Y2
	VBLENDVPD    Y7, Y10, Y3, Y3
	VMINPD       Y3, Y2, Y5
	VPERMPD      $0x4E, Y5, Y6
	VMINPD       Y6, Y5, Y5
	VPERMPD      $0xB1, Y5, Y6
	VMINPD       Y6, Y5, Y5

	// bounds and label
	VUNPCKLPD X5, X4, X4
	VSQRTPD   X4, X4
	VMOVSD    X4, (R11)(R9*8)
	VMOVHPD   X4, (DI)(R9*8)
	MOVLQSX   (R10)(R9*4), DX
	MOVL      DX, (R15)
	ADDQ      $4, R15
	CMPQ      DX, AX
	MOVL      $0, DX
	SETNE     DL
	ADDQ      DX, R13
	MOVL      AX, (R10)(R9*4)

	TESTQ R12, R12
	JNZ   rnext
	ADDQ  R14, SI
	INCQ  R9

rnext:
	DECQ CX
	JNZ  rrow

	VZEROUPPER
	MOVQ R13, changed+80(FP)
	RET

// func sqrtSumSIMD(v *float64, n int) float64
//
// sqrtSum (metrics.go) with four lanes: lane t adds the square roots of
// v[4j+t] in order, the n%4 last values go to lane 0 one by one, and the
// result is (lane0 + lane1) + (lane2 + lane3): the same bits as sqrtSum.
TEXT ·sqrtSumSIMD(SB), NOSPLIT, $0-24
	MOVQ   v+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPD Y0, Y0, Y0
	MOVQ   CX, BX
	ANDQ   $-4, BX
	XORQ   AX, AX
	CMPQ   AX, BX
	JGE    lanes

quad:
	VSQRTPD (SI)(AX*8), Y1
	VADDPD  Y1, Y0, Y0
	ADDQ    $4, AX
	CMPQ    AX, BX
	JLT     quad

lanes:
	VEXTRACTF128 $1, Y0, X2

single:
	CMPQ    AX, CX
	JGE     sum
	VSQRTSD (SI)(AX*8), X3, X3
	VADDSD  X3, X0, X0
	INCQ    AX
	JMP     single

sum:
	VUNPCKHPD X0, X0, X4
	VADDSD    X4, X0, X0
	VUNPCKHPD X2, X2, X5
	VADDSD    X5, X2, X2
	VADDSD    X2, X0, X0
	VZEROUPPER
	MOVSD     X0, ret+16(FP)
	RET

// func lloydSIMD(x *float64, n, d int, ct *float64, bias *[8]float64, labels *int32, prev *int32) (changed int)
//
// Lloyd's assignment for k ≤ 8 centres (one group of centres.ct) over the
// rows x[0..n) in order: the 8 distances as in distsSIMD, plus bias (+Inf
// for the padding), and the nearest centre j (the lowest lane on ties:
// argmin's choice, since squared distances are ≥ +0 and never NaN) kept in
// registers rather than stored as 8 distances and read back. It stores
// labels[r] = j, the previous label in prev[r], and counts the changes.
TEXT ·lloydSIMD(SB), NOSPLIT, $0-64
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	MOVQ    ct+24(FP), R8
	MOVQ    bias+32(FP), R9
	MOVQ    labels+40(FP), R10
	MOVQ    prev+48(FP), DI
	VMOVUPD (R9), Y8
	VMOVUPD 32(R9), Y9
	XORQ    R13, R13 // changed
	MOVQ    d+16(FP), BX
	MOVQ    BX, R14
	SHLQ    $3, R14 // row size in bytes
	ANDQ    $-2, BX // the even part of d

lrow:
	MOVQ   R8, AX // centre pointer
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ   DX, DX
	CMPQ   DX, BX
	JGE    ltail

lpair:
	VBROADCASTSD (SI)(DX*8), Y0
	VBROADCASTSD 8(SI)(DX*8), Y5
	VSUBPD       (AX), Y0, Y1
	VSUBPD       32(AX), Y0, Y4
	VFMADD231PD  Y1, Y1, Y2
	VFMADD231PD  Y4, Y4, Y3
	VSUBPD       64(AX), Y5, Y6
	VSUBPD       96(AX), Y5, Y7
	VFMADD231PD  Y6, Y6, Y2
	VFMADD231PD  Y7, Y7, Y3
	ADDQ         $128, AX
	ADDQ         $2, DX
	CMPQ         DX, BX
	JLT          lpair

ltail:
	CMPQ         DX, d+16(FP)
	JGE          ldone
	VBROADCASTSD (SI)(DX*8), Y0
	VSUBPD       (AX), Y0, Y1
	VSUBPD       32(AX), Y0, Y4
	VFMADD231PD  Y1, Y1, Y2
	VFMADD231PD  Y4, Y4, Y3

ldone:
	VADDPD Y8, Y2, Y2
	VADDPD Y9, Y3, Y3

	// the smallest distance in every lane of Y4
	VMINPD  Y3, Y2, Y4
	VPERMPD $0x4E, Y4, Y5
	VMINPD  Y5, Y4, Y4
	VPERMPD $0xB1, Y4, Y5
	VMINPD  Y5, Y4, Y4

	// j: the lowest lane equal to it
	VCMPPD    $0, Y4, Y2, Y5
	VMOVMSKPD Y5, AX
	VCMPPD    $0, Y4, Y3, Y5
	VMOVMSKPD Y5, DX
	SHLQ      $4, DX
	ORQ       DX, AX
	BSFQ      AX, AX

	MOVL  (R10), DX
	MOVL  DX, (DI)
	CMPL  DX, AX
	MOVL  $0, DX
	SETNE DL
	ADDQ  DX, R13
	MOVL  AX, (R10)
	ADDQ  $4, R10
	ADDQ  $4, DI
	ADDQ  R14, SI
	DECQ  CX
	JNZ   lrow

	VZEROUPPER
	MOVQ R13, changed+56(FP)
	RET

// func lloydQuadSIMD(x *float64, n, d int, bt *float64, labels, prev, moved *int32) (changed int)
//
// lloydSIMD's labels and prev for n rows, n a multiple of 4 and ≥ 4, four
// rows at a time with the centres across registers instead of across
// lanes: Y8+j holds the squared distances of the four rows to centre j,
// each lane summed in the canonical order of kernel.go (v = x_t − c_jt,
// then s = v·v for t = 0, which is fma(v, v, +0) to the bit, and
// s = fma(v, v, s) after). bt is centres.bt: for each t, 8 vectors of c_jt
// broadcast, +Inf for padding centres, whose distance is then +Inf and
// never nearest (a real centre wins ties, as with bias). The argmin is a
// tree of strict compares that keeps the lower index on ties, vertical in
// the lanes, so no row pays lloydSIMD's horizontal reduction. The offsets
// of the rows whose label changed go to moved, in row order, so that the
// caller visits only those; their count is returned.
TEXT ·lloydQuadSIMD(SB), NOSPLIT, $0-64
	MOVQ    x+0(FP), SI
	MOVQ    d+16(FP), R9
	MOVQ    bt+24(FP), R8
	MOVQ    labels+32(FP), R10
	MOVQ    prev+40(FP), DI
	MOVQ    moved+48(FP), CX
	MOVQ    R9, R14
	SHLQ    $3, R14 // row size in bytes
	LEAQ    (R14)(R14*2), BX // three rows
	XORQ    R13, R13 // changed, the length of moved
	XORQ    R12, R12 // the first row of the quad
	VXORPD  Y4, Y4, Y4 // index 0 in every lane
	VMOVUPD lloydIdx<>+64(SB), Y5
	VMOVUPD lloydIdx<>+128(SB), Y6
	VMOVUPD lloydIdx<>+192(SB), Y7

qrow:
	MOVQ SI, R11 // x_t of the first of the four rows
	MOVQ R8, AX

	VMOVSD      (R11), X0
	VMOVHPD     (R11)(R14*1), X0, X0
	VMOVSD      (R11)(R14*2), X1
	VMOVHPD     (R11)(BX*1), X1, X1
	VINSERTF128 $1, X1, Y0, Y0
	VSUBPD 0(AX), Y0, Y1
	VMULPD Y1, Y1, Y8
	VSUBPD 32(AX), Y0, Y2
	VMULPD Y2, Y2, Y9
	VSUBPD 64(AX), Y0, Y1
	VMULPD Y1, Y1, Y10
	VSUBPD 96(AX), Y0, Y2
	VMULPD Y2, Y2, Y11
	VSUBPD 128(AX), Y0, Y1
	VMULPD Y1, Y1, Y12
	VSUBPD 160(AX), Y0, Y2
	VMULPD Y2, Y2, Y13
	VSUBPD 192(AX), Y0, Y1
	VMULPD Y1, Y1, Y14
	VSUBPD 224(AX), Y0, Y2
	VMULPD Y2, Y2, Y15
	ADDQ $256, AX
	ADDQ $8, R11
	MOVQ R9, DX
	DECQ DX
	JZ   qmin

qdim:
	VMOVSD      (R11), X0
	VMOVHPD     (R11)(R14*1), X0, X0
	VMOVSD      (R11)(R14*2), X1
	VMOVHPD     (R11)(BX*1), X1, X1
	VINSERTF128 $1, X1, Y0, Y0
	VSUBPD      0(AX), Y0, Y1
	VFMADD231PD Y1, Y1, Y8
	VSUBPD      32(AX), Y0, Y2
	VFMADD231PD Y2, Y2, Y9
	VSUBPD      64(AX), Y0, Y1
	VFMADD231PD Y1, Y1, Y10
	VSUBPD      96(AX), Y0, Y2
	VFMADD231PD Y2, Y2, Y11
	VSUBPD      128(AX), Y0, Y1
	VFMADD231PD Y1, Y1, Y12
	VSUBPD      160(AX), Y0, Y2
	VFMADD231PD Y2, Y2, Y13
	VSUBPD      192(AX), Y0, Y1
	VFMADD231PD Y1, Y1, Y14
	VSUBPD      224(AX), Y0, Y2
	VFMADD231PD Y2, Y2, Y15
	ADDQ $256, AX
	ADDQ $8, R11
	DECQ DX
	JNZ  qdim

qmin:
	// pairs (0,1) (2,3) (4,5) (6,7): value in the even register, index in
	// the odd; the higher centre only when strictly nearer
	VCMPPD    $1, Y8, Y9, Y0
	VMINPD    Y8, Y9, Y8
	VBLENDVPD Y0, lloydIdx<>+32(SB), Y4, Y9
	VCMPPD    $1, Y10, Y11, Y1
	VMINPD    Y10, Y11, Y10
	VBLENDVPD Y1, lloydIdx<>+96(SB), Y5, Y11
	VCMPPD    $1, Y12, Y13, Y2
	VMINPD    Y12, Y13, Y12
	VBLENDVPD Y2, lloydIdx<>+160(SB), Y6, Y13
	VCMPPD    $1, Y14, Y15, Y3
	VMINPD    Y14, Y15, Y14
	VBLENDVPD Y3, lloydIdx<>+224(SB), Y7, Y15

	// (0..3) and (4..7), then the two
	VCMPPD    $1, Y8, Y10, Y0
	VMINPD    Y8, Y10, Y8
	VBLENDVPD Y0, Y11, Y9, Y9
	VCMPPD    $1, Y12, Y14, Y1
	VMINPD    Y12, Y14, Y12
	VBLENDVPD Y1, Y15, Y13, Y13
	VCMPPD    $1, Y8, Y12, Y2
	VBLENDVPD Y2, Y13, Y9, Y9

	// the four int64 indices as int32 labels
	VEXTRACTF128 $1, Y9, X1
	VSHUFPS      $0x88, X1, X9, X0
	VMOVDQU      (R10)(R12*4), X1
	VMOVDQU      X1, (DI)(R12*4)
	VMOVDQU      X0, (R10)(R12*4)
	VPCMPEQD     X0, X1, X1
	VMOVMSKPS    X1, AX
	XORL         $15, AX // the lanes whose label changed
	JNZ          qmoved

qnext:
	ADDQ $4, R12
	LEAQ (SI)(R14*4), SI
	CMPQ R12, n+8(FP)
	JLT  qrow

	VZEROUPPER
	MOVQ R13, changed+56(FP)
	RET

	// Out of line: once the centres settle most quads keep their labels.
qmoved:
	BSFL AX, DX
	ADDL R12, DX
	MOVL DX, (CX)(R13*4)
	INCQ R13
	LEAL -1(AX), DX
	ANDL DX, AX
	JNZ  qmoved
	JMP  qnext

DATA lloydIdx<>+0(SB)/8, $0
DATA lloydIdx<>+8(SB)/8, $0
DATA lloydIdx<>+16(SB)/8, $0
DATA lloydIdx<>+24(SB)/8, $0
DATA lloydIdx<>+32(SB)/8, $1
DATA lloydIdx<>+40(SB)/8, $1
DATA lloydIdx<>+48(SB)/8, $1
DATA lloydIdx<>+56(SB)/8, $1
DATA lloydIdx<>+64(SB)/8, $2
DATA lloydIdx<>+72(SB)/8, $2
DATA lloydIdx<>+80(SB)/8, $2
DATA lloydIdx<>+88(SB)/8, $2
DATA lloydIdx<>+96(SB)/8, $3
DATA lloydIdx<>+104(SB)/8, $3
DATA lloydIdx<>+112(SB)/8, $3
DATA lloydIdx<>+120(SB)/8, $3
DATA lloydIdx<>+128(SB)/8, $4
DATA lloydIdx<>+136(SB)/8, $4
DATA lloydIdx<>+144(SB)/8, $4
DATA lloydIdx<>+152(SB)/8, $4
DATA lloydIdx<>+160(SB)/8, $5
DATA lloydIdx<>+168(SB)/8, $5
DATA lloydIdx<>+176(SB)/8, $5
DATA lloydIdx<>+184(SB)/8, $5
DATA lloydIdx<>+192(SB)/8, $6
DATA lloydIdx<>+200(SB)/8, $6
DATA lloydIdx<>+208(SB)/8, $6
DATA lloydIdx<>+216(SB)/8, $6
DATA lloydIdx<>+224(SB)/8, $7
DATA lloydIdx<>+232(SB)/8, $7
DATA lloydIdx<>+240(SB)/8, $7
DATA lloydIdx<>+248(SB)/8, $7
GLOBL lloydIdx<>(SB), RODATA|NOPTR, $256
