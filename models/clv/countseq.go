package clv

import "math"

// countSeq yields P(X(t) = 0), P(X(t) = 1), … of one model in turn, by
// recursions in the count instead of the closed form at each count: the
// predictive walk of PurchaseIntervals asks for every count from 0 up, for
// every parameter draw, and the closed forms' log-Beta, log-Gamma and
// incomplete Beta functions were three quarters of its time.
//
// BG/NBD (Fader, Hardie and Lee 2005, eq. 8), with q = t/(α+t) and
// nb_k = Γ(r+k)/(Γ(r) k!) q^k (1-q)^r the negative binomial pmf:
//
//	P(X(t) = k) = B(a, b+k)/B(a, b) · nb_k + [k > 0] B(a+1, b+k-1)/B(a, b) · I_q(k, r)
//
// and each factor steps by a ratio:
//
//	nb_k       = nb_{k-1} · (r+k-1)/k · q,          nb_0 = (1-q)^r
//	B(a,b+k)   = B(a,b+k-1) · (b+k-1)/(a+b+k-1)
//	B(a+1,b+k) = B(a+1,b+k-1) · (b+k-1)/(a+b+k),   B(a+1,b)/B(a,b) = a/(a+b)
//	I_q(k+1,r) = I_q(k,r) - nb_k,                    I_q(0,r) = 1
//
// (the last is I_x(p+1,s) = I_x(p,s) - x^p (1-x)^s / (p B(p,s))). The
// subtraction leaves I an absolute error of a few ulps of 1 per step,
// which is what a walk up a cumulative distribution can use; the result is
// clamped at 0. The NBD is nb_k alone.
type countSeq struct {
	k              int
	nb, d, c2, inc float64
	r, q, a, b     float64
	bg             bool
}

// newCountSeq returns the sequence of m's count distribution over t, or
// nil when m has no recursion here (Pareto/NBD, other types) or its first
// term underflows, where callers use m.ProbNPurchases.
func newCountSeq(m PurchaseModel, t float64) *countSeq {
	var s countSeq
	switch v := m.(type) {
	case BGNBD:
		s = countSeq{r: v.R, q: t / (v.Alpha + t), a: v.A, b: v.B, bg: true}
		s.nb = math.Exp(v.R * math.Log(v.Alpha/(v.Alpha+t)))
	case NBD:
		s = countSeq{r: v.R, q: t / (v.Alpha + t)}
		s.nb = math.Exp(v.R * math.Log(v.Alpha/(v.Alpha+t)))
	default:
		return nil
	}
	if !(s.nb > 1e-280) {
		return nil
	}
	s.d, s.inc = 1, 1
	return &s
}

// next returns P(X(t) = k) for k = 0, 1, … on successive calls.
func (s *countSeq) next() float64 {
	k := float64(s.k)
	if s.k > 0 {
		// Step nb, d and c2 from k-1 to k, and I from k-1 to k.
		s.inc -= s.nb
		if s.k == 1 {
			s.c2 = s.a / (s.a + s.b)
		} else {
			s.c2 *= (s.b + k - 2) / (s.a + s.b + k - 1)
		}
		s.d *= (s.b + k - 1) / (s.a + s.b + k - 1)
		s.nb *= (s.r + k - 1) / k * s.q
	}
	s.k++
	if !s.bg {
		return s.nb
	}
	p := s.d * s.nb
	if k > 0 {
		p += s.c2 * max(s.inc, 0)
	}
	return max(p, 0)
}
