package clv

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// simulateNBD draws customers from the NBD story: a purchase rate
// λ ~ Gamma(r, α) each, repeat purchases a Poisson process over (0, T]
// after the first one, T uniform in [lo, hi], t_x the last of them. Nobody
// drops out.
func simulateNBD(rng *rand.Rand, n int, m NBD, lo, hi float64) (x, tx, T []float64) {
	lam := distuv.Gamma{Alpha: m.R, Beta: m.Alpha, Src: rng}
	for range n {
		l := lam.Rand()
		Ti := lo + (hi-lo)*rng.Float64()
		var xi, ti float64
		for now := rng.ExpFloat64() / l; now <= Ti; now += rng.ExpFloat64() / l {
			xi, ti = xi+1, now
		}
		x, tx, T = append(x, xi), append(tx, ti), append(T, Ti)
	}
	return x, tx, T
}

// LogLik against two computations that share nothing with it: the
// negative binomial pmf written out with math.Lgamma, and the Gamma
// mixture of Poisson probabilities integrated numerically with gonum's
// distributions. LogLik is the likelihood of the purchase times (the
// BG/NBD convention), which is ln P(X(T) = x) - x ln T + ln x!.
func TestNBDLogLikMatchesNegativeBinomial(t *testing.T) {
	x, tx, T := simulateNBD(rand.New(rand.NewPCG(3, 1)), 3000, NBD{R: 0.8, Alpha: 9}, 1, 104)
	x, tx, T = append(x, 0, 500, 40), append(tx, 0, 299, 12), append(T, 0, 300, 12)
	w := make([]float64, len(x))
	for i := range w {
		w[i] = float64(1 + i%3)
	}
	convention := func(x, T float64) float64 { return xlogy(x, T) - lgam(x+1) }
	for _, m := range []NBD{{0.8, 9}, {0.05, 300}, {40, 2}, {1, 1}} {
		var want float64
		for i := range x {
			lg := func(v float64) float64 { l, _ := math.Lgamma(v); return l }
			p := m.Alpha / (m.Alpha + T[i])
			logPMF := lg(m.R+x[i]) - lg(m.R) - lg(x[i]+1) + m.R*math.Log(p)
			if x[i] > 0 {
				logPMF += x[i] * math.Log1p(-p)
			}
			want += w[i] * (logPMF - convention(x[i], T[i]))
		}
		if got := m.LogLik(x, tx, T, w); relErr(got, want) > 1e-9 {
			t.Errorf("%+v: LL %.15g, NB pmf %.15g (rel err %.2g)", m, got, want, relErr(got, want))
		}
		// The mixture integral, in s = ln λ so that the integrand is smooth
		// for any r. Up to a constant it is e^{k s - c e^s}, k = r+x,
		// c = α+T, which at s = s0 + u, s0 = ln(k/c) its peak, is
		// e^{-k (e^u - 1 - u)} times its peak value: the window extends
		// until that is below e^{-45} on each side.
		for _, c := range [][2]float64{{0, 30}, {1, 5}, {7, 52}, {60, 40}} {
			xi, Ti := c[0], c[1]
			k := m.R + xi
			mode := math.Log(k / (m.Alpha + Ti))
			edge := func(dir float64) float64 {
				u := 0.0
				for k*(math.Expm1(u)-u) < 45 {
					u += dir * 0.01
				}
				return mode + u
			}
			g := distuv.Gamma{Alpha: m.R, Beta: m.Alpha}
			f := func(s float64) float64 {
				l := math.Exp(s)
				return math.Exp(distuv.Poisson{Lambda: l * Ti}.LogProb(xi) + g.LogProb(l) + s)
			}
			prob := quad.Fixed(f, edge(-1), edge(1), 20000, nil, 0)
			got := m.LogLik([]float64{xi}, []float64{0}, []float64{Ti}, nil) + convention(xi, Ti)
			if e := relErr(math.Exp(got), prob); e > 1e-9 {
				t.Errorf("%+v at x=%v, T=%v: P(X(T)=x) %.12g, quadrature %.12g (rel err %.2g)", m, xi, Ti, math.Exp(got), prob, e)
			}
		}
	}
}

func TestNBDDerivativesMatchFiniteDifferences(t *testing.T) {
	x := []float64{0, 0, 1, 2, 7, 150, 500, 3}
	T := []float64{38.9, 27, 38, 38.9, 39, 38, 310, 38.9}
	w := []float64{3, 5, 1, 2, 1, 1, 1, 4}
	f := func(p, grad, hess []float64) float64 { return nbdLogLik(p, x, T, w, grad, hess) }
	for _, p := range [][]float64{{0.243, 4.414}, {2, 0.5}, {0.05, 40}, {30, 300}} {
		fdCheck(t, "nbd", f, p, true, 1e-6)
	}
}

// Gamma-Poisson data with known r and α: the fit must recover them within
// sampling error, judged by the standard errors from the observed
// information (the inverse of the negated Hessian at the estimate). Four
// standard errors: a fixed seed can be unlucky by two, never by four.
func TestFitNBDRecoversParameters(t *testing.T) {
	truth := NBD{R: 1.5, Alpha: 12}
	x, tx, T := simulateNBD(rand.New(rand.NewPCG(11, 12)), 20000, truth, 26, 104)
	for i := range T {
		T[i] = math.Ceil(7*T[i]) / 7 // whole days, as a shop's summaries are
	}
	m, res, err := FitNBD(context.Background(), x, tx, T, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hess := make([]float64, 4)
	nbdLogLik(m.vec(), x, T, nil, make([]float64, 2), hess)
	info := mat.NewSymDense(2, []float64{-hess[0], -hess[1], -hess[2], -hess[3]})
	var cov mat.Dense
	if err := cov.Inverse(info); err != nil {
		t.Fatal(err)
	}
	for i, got := range m.vec() {
		want, se := truth.vec()[i], math.Sqrt(cov.At(i, i))
		if math.Abs(got-want) > 4*se {
			t.Errorf("param %d = %.5g, want %.5g ± 4×%.3g", i, got, want, se)
		}
		t.Logf("param %d: %.5g (truth %.5g, standard error %.3g, %.2f SE off)", i, got, want, se, (got-want)/se)
	}
	// Customers that differ only in t_x share a row.
	if !res.Converged || res.Method != "Newton" || res.N != 20000 || res.Distinct >= res.N {
		t.Errorf("result %+v", res)
	}
	if ll := m.LogLik(x, tx, T, nil); math.Abs(ll-res.LogLik) > 1e-9*math.Abs(ll) {
		t.Errorf("FitResult.LogLik %.12g, LogLik at the estimate %.12g", res.LogLik, ll)
	}
	pm, _, err := FitPurchaseModel(context.Background(), "nbd", x, tx, T, FitOptions{})
	if err != nil || pm != m {
		t.Errorf("FitPurchaseModel(nbd) = %v, %v; want %v", pm, err, m)
	}
}

// The conditional expectation (r+x)/(α+T)·t against Monte Carlo: draw λ
// from the prior, purchases in (0, T] and (T, T+t] as independent Poisson
// counts, and average the second over the customers with x in the first.
// Four standard errors of each mean.
func TestNBDConditionalExpectationMonteCarlo(t *testing.T) {
	m := NBD{R: 2, Alpha: 10}
	const T, tt, n = 20.0, 13.0, 400_000
	rng := rand.New(rand.NewPCG(5, 6))
	lam := distuv.Gamma{Alpha: m.R, Beta: m.Alpha, Src: rng}
	sum, sum2, cnt := map[float64]float64{}, map[float64]float64{}, map[float64]float64{}
	for range n {
		l := lam.Rand()
		x := distuv.Poisson{Lambda: l * T, Src: rng}.Rand()
		y := distuv.Poisson{Lambda: l * tt, Src: rng}.Rand()
		sum[x] += y
		sum2[x] += y * y
		cnt[x]++
	}
	for _, x := range []float64{0, 1, 3, 8} {
		mean := sum[x] / cnt[x]
		se := math.Sqrt((sum2[x]/cnt[x] - mean*mean) / cnt[x])
		got := m.ExpectedPurchases(tt, x, 0.7*T, T)
		if math.Abs(got-mean) > 4*se {
			t.Errorf("E[Y(%v) | x=%v, T=%v] = %.5g, Monte Carlo %.5g ± %.2g (%v customers)", tt, x, T, got, mean, se, cnt[x])
		}
	}
	if got, want := m.UnconditionalExpectedPurchases(tt), m.R*tt/m.Alpha; relErr(got, want) > 1e-15 {
		t.Errorf("E[X(t)] = %v, want r t/α = %v", got, want)
	}
	if p := m.PAlive(3, 1, 50); p != 1 {
		t.Errorf("P(alive) = %v, want 1", p)
	}
}

// With a linear expectation every month brings the same expected
// purchases, so the discounted sum is an annuity:
// CLV = margin · E[spend] · (r+x) L/(α+T) · (1 - (1+d)^-K)/d.
func TestNBDCLVClosedForm(t *testing.T) {
	m := NBD{R: 1.5, Alpha: 12}
	gg := GammaGamma{6.25, 3.74, 15.44}
	x, tx, T, spend := synthetic(5000)
	const K, L, margin, d = 12, 4.345, 0.3, 0.008
	got, err := CLVs(context.Background(), m, gg, x, tx, T, spend, K, L, margin, d, 2)
	if err != nil {
		t.Fatal(err)
	}
	annuity := (1 - math.Pow(1+d, -K)) / d
	for i := range x {
		want := margin * gg.ExpectedSpend(x[i], spend[i]) * (m.R + x[i]) * L / (m.Alpha + T[i]) * annuity
		if relErr(got[i], want) > 1e-12 {
			t.Fatalf("row %d: CLV %.15g, annuity %.15g", i, got[i], want)
		}
	}
}

// The models with drop-out tend to the NBD as drop-out vanishes (BG/NBD,
// MBG/NBD b → ∞; Pareto/NBD β → ∞), which is what makes comparing their
// log-likelihoods with the NBD's meaningful. Expanded to first order in
// the mean drop-out, independently of the package's forms:
//
//	BG/NBD, E[p] = a/(a+b):  ℓ ≈ ℓ_NBD + E[p] (1{x>0} q^{r+x} - x),
//	MBG/NBD:                 ℓ ≈ ℓ_NBD + E[p] (q^{r+x} - x - 1),
//	Pareto/NBD, E[μ] = s/β:  ℓ ≈ ℓ_NBD + E[μ] ((α+T)(q^{r+x-1} - 1)/(r+x-1) - T),
//
// q = (α+T)/(α+t_x). The gap divided by the mean drop-out, extrapolated to
// the limit from two values (Richardson: the next term is O(1/b)), must
// match the coefficient to 0.5 %.
//
// Pareto/NBD approaches its limit slowly (the expansion needs E[μ] q^{r+x}
// small for customers with long gaps), and the package's series for low x
// give out beyond β/α ≈ 2500 (hyp2f1Unit), so there the limit is checked
// on an independent evaluation of its likelihood, λ integrated in closed
// form and the time of death by quadrature,
//
//	L = A(T) (β/(β+T))^s + ∫_{t_x}^T s β^s (β+τ)^{-s-1} A(τ) dτ,
//	A(τ) = Γ(r+x)/Γ(r) α^r (α+τ)^{-(r+x)},
//
// which the package's likelihood must match to 1e-9 where its series hold.
func TestPurchaseModelsTendToNBD(t *testing.T) {
	nbd := NBD{R: 1.5, Alpha: 12}
	x, tx, T := simulateNBD(rand.New(rand.NewPCG(8, 8)), 300, nbd, 26, 104)
	r, al := nbd.R, nbd.Alpha
	ref := nbd.LogLik(x, tx, T, nil)
	var sBG, sMBG, sP float64
	for i := range x {
		lq := math.Log((al + T[i]) / (al + tx[i]))
		if x[i] > 0 {
			sBG += math.Exp((r+x[i])*lq) - x[i]
		}
		sMBG += math.Exp((r+x[i])*lq) - x[i] - 1
		k := r + x[i] - 1
		sP += (al+T[i])*math.Expm1(k*lq)/k - T[i]
	}
	const a, s = 0.8, 0.9
	pnbdQuad := func(be float64) float64 {
		var ll float64
		for i := range x {
			logA := func(tau float64) float64 { return lgam(r+x[i]) - lgam(r) + r*math.Log(al) - (r+x[i])*math.Log(al+tau) }
			died := quad.Fixed(func(tau float64) float64 {
				return math.Exp(math.Log(s) + s*math.Log(be/(be+tau)) - math.Log(be+tau) + logA(tau) - logA(T[i]))
			}, tx[i], T[i], 1000, nil, 0)
			ll += logA(T[i]) + math.Log(math.Exp(s*math.Log(be/(be+T[i])))+died)
		}
		return ll
	}
	for _, be := range []float64{12, 2400, 3e4} {
		if got, want := (ParetoNBD{r, al, s, be}).LogLik(x, tx, T, nil), pnbdQuad(be); relErr(got, want) > 1e-9 {
			t.Errorf("pnbd at β = %g: LL %.12g, quadrature %.12g", be, got, want)
		}
	}
	cases := []struct {
		name string
		ll   func(v float64) float64
		mean func(v float64) float64
		coef float64
		v    float64 // and 2v
	}{
		{"bgnbd", func(b float64) float64 { return BGNBD{r, al, a, b}.LogLik(x, tx, T, nil) },
			func(b float64) float64 { return a / (a + b) }, sBG, 1e5},
		{"mbgnbd", func(b float64) float64 { return MBGNBD{r, al, a, b}.LogLik(x, tx, T, nil) },
			func(b float64) float64 { return a / (a + b) }, sMBG, 1e5},
		{"pnbd (quadrature)", pnbdQuad, func(be float64) float64 { return s / be }, sP, 5e6},
	}
	for _, c := range cases {
		d1 := (c.ll(c.v) - ref) / c.mean(c.v)
		d2 := (c.ll(2*c.v) - ref) / c.mean(2*c.v)
		if lim := 2*d2 - d1; relErr(lim, c.coef) > 5e-3 {
			t.Errorf("%s: (LL - LL_NBD)/E[drop-out] %.6g at %g, %.6g at twice that, extrapolated %.6g; first-order coefficient %.6g",
				c.name, d1, c.v, d2, lim, c.coef)
		}
	}
}

// The no-dropout diagnosis: on data without drop-out every purchase model
// fails at the boundary and carries the NBD; on data that fail for other
// reasons it must not be given, however small the drop-out.
func TestNoDropoutDiagnosis(t *testing.T) {
	noChurn := func() (x, tx, T []float64) {
		return simulateNBD(rand.New(rand.NewPCG(1, 5)), 1000, NBD{R: 3, Alpha: 6}, 26, 52)
	}
	// One drop-out probability, 1e-3 per purchase, shared by every
	// customer (the Beta collapses onto it: a, b → ∞): the Complete
	// Journey's shape, with some 2 % of customers gone.
	common := func() (x, tx, T []float64) {
		return simulateBGNBD(rand.New(rand.NewPCG(2, 9)), 2000, BGNBD{R: 4, Alpha: 7, A: 1000, B: 1e6})
	}
	// Half the customers leave after each purchase (TestFitRejectsRidge).
	half := func() (x, tx, T []float64) {
		return simulateBGNBD(rand.New(rand.NewPCG(7, 99)), 500, BGNBD{R: 1, Alpha: 50, A: 3, B: 3})
	}
	// No drop-out and one purchase rate for all: the NBD itself has no
	// estimate (r, α → ∞, the Poisson limit).
	poisson := func() (x, tx, T []float64) {
		return simulateNBD(rand.New(rand.NewPCG(4, 4)), 1000, NBD{R: 1e7, Alpha: 2e7}, 26, 52)
	}
	cases := []struct {
		name   string
		data   func() (x, tx, T []float64)
		models []string
		want   bool // a NoDropoutError
		shown  bool // the error says the data show drop-out
	}{
		{"no churn", noChurn, []string{"bgnbd", "mbgnbd", "pnbd"}, true, false},
		{"common drop-out probability", common, []string{"bgnbd", "mbgnbd"}, false, true},
		{"half leave", half, []string{"bgnbd", "mbgnbd"}, false, false},
		{"Poisson rates", poisson, []string{"bgnbd", "mbgnbd"}, false, false},
	}
	for _, c := range cases {
		x, tx, T := c.data()
		nbd, nres, nerr := FitNBD(context.Background(), x, tx, T, FitOptions{})
		for _, name := range c.models {
			_, _, err := FitPurchaseModel(context.Background(), name, x, tx, T, FitOptions{})
			if !errors.Is(err, ErrNotConverged) {
				t.Errorf("%s/%s: %v, want an error wrapping ErrNotConverged", c.name, name, err)
				continue
			}
			var nd *NoDropoutError
			if got := errors.As(err, &nd); got != c.want {
				t.Errorf("%s/%s: NoDropoutError %v, want %v: %v", c.name, name, got, c.want, err)
				continue
			}
			t.Logf("%s/%s: %v", c.name, name, err)
			if got := strings.Contains(err.Error(), "the data show drop-out"); got != c.shown {
				t.Errorf("%s/%s: says the data show drop-out: %v, want %v", c.name, name, got, c.shown)
			}
			if !c.want {
				continue
			}
			param := map[string]string{"bgnbd": "b", "mbgnbd": "b", "pnbd": "beta"}[name]
			if nerr != nil || nd.NBD != nbd || nd.NBDFit.LogLik != nres.LogLik || !nd.NBDFit.Converged {
				t.Errorf("%s/%s: carried NBD %+v (%+v), FitNBD %+v (%v)", c.name, name, nd.NBD, nd.NBDFit, nbd, nerr)
			}
			if nd.Model != name || nd.Param != param || !nd.Exact || nd.Gain > 0 || !(nd.DropoutProb < 1e-3) ||
				nd.Stopped[param] < 1e3 || !strings.Contains(nd.Reason(), "likelihood is maximised at "+param+" → ∞, the NBD limit") {
				t.Errorf("%s/%s: %+v, reason %q", c.name, name, nd, nd.Reason())
			}
		}
		if c.name == "Poisson rates" && !errors.Is(nerr, ErrNotConverged) {
			t.Errorf("NBD on Poisson rates: %v, %v; want ErrNotConverged", nbd, nerr)
		}
	}
}

// TestNBDProbZeroFastPath: P(X(t) = 0) by its closed form is the general
// expression's bits, over shapes, scales and times from none to far out.
func TestNBDProbZeroFastPath(t *testing.T) {
	general := func(m NBD, tt float64) float64 {
		r, al := m.R, m.Alpha
		return math.Exp(lgam(r) - lgam(r) - lgam(1) + r*math.Log(al/(al+tt)) + xlogy(0, tt/(al+tt)))
	}
	for _, r := range []float64{1e-6, 0.05, 0.39, 1, 2.7, 31, 1e4, 1e9} {
		for _, al := range []float64{1e-3, 0.4, 5.21, 60, 1e5} {
			for _, tt := range []float64{0, 1e-9, 0.5, 4, 52, 1e3, 1e7, math.Inf(1)} {
				m := NBD{R: r, Alpha: al}
				if got, want := m.ProbNPurchases(0, tt), general(m, tt); math.Float64bits(got) != math.Float64bits(want) {
					t.Errorf("NBD{%v, %v} P(0 in %v) = %v, the general expression %v", r, al, tt, got, want)
				}
			}
		}
	}
}
