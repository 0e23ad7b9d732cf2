package cluster

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"
)

func TestScaler(t *testing.T) {
	X, _ := MatrixFromRows([][]float64{
		{0, 10, 3, 7},
		{1, 20, 3, -2},
		{9, 35, 3, 0.5},
		{99, 5, 3, 4},
	})
	modes := []Scaling{ScaleLog1p, ScaleZScore, ScaleZScore, ScaleLog1pZScore}
	modes[3] = ScaleNone
	sc, err := FitScaler(X, modes, []string{"a", "b", "c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	Y, err := sc.Transform(X)
	if err != nil {
		t.Fatal(err)
	}
	// In place gives the copy's values, and leaves the input of the copy
	// alone.
	Z := Matrix{Data: slices.Clone(X.Data), N: X.N, D: X.D}
	if err := sc.TransformInPlace(Z); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(Z.Data, Y.Data) {
		t.Errorf("in place %v, copy %v", Z.Data, Y.Data)
	}
	if slices.Equal(X.Data, Y.Data) {
		t.Error("Transform scaled its input")
	}
	col := func(j int) []float64 {
		out := make([]float64, X.N)
		for i := range out {
			out[i] = X.Row(i)[j]
		}
		return out
	}
	meanSD := func(v []float64) (float64, float64) {
		var m, s float64
		for _, x := range v {
			m += x / float64(len(v))
		}
		for _, x := range v {
			s += (x - m) * (x - m) / float64(len(v))
		}
		return m, math.Sqrt(s)
	}
	bm, bs := meanSD(col(1))
	for i := 0; i < X.N; i++ {
		want := []float64{math.Log1p(X.Row(i)[0]), (X.Row(i)[1] - bm) / bs, 0 /* constant column */, X.Row(i)[3]}
		for j, w := range want {
			if math.Abs(Y.Row(i)[j]-w) > 1e-12 {
				t.Errorf("row %d col %d: %v, want %v", i, j, Y.Row(i)[j], w)
			}
		}
	}
	// log1p then z-score.
	sc2, err := FitScaler(X, []Scaling{ScaleLog1pZScore, ScaleNone, ScaleNone, ScaleNone}, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := col(0)
	for i := range logs {
		logs[i] = math.Log1p(logs[i])
	}
	lm, ls := meanSD(logs)
	if math.Abs(sc2.Mean[0]-lm) > 1e-12 || math.Abs(sc2.Std[0]-ls) > 1e-12 {
		t.Errorf("log1p+zscore params %v %v, want %v %v", sc2.Mean[0], sc2.Std[0], lm, ls)
	}
	// Stored parameters round-trip: same transform, and Inverse undoes it.
	blob, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	var back Scaler
	if err := json.Unmarshal(blob, &back); err != nil {
		t.Fatal(err)
	}
	Y2, err := back.Transform(X)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(Y.Data, Y2.Data) {
		t.Error("scaler restored from JSON transforms differently")
	}
	R, err := back.InverseTransform(Y2)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range R.Data {
		if math.Abs(v-X.Data[i]) > 1e-9*math.Max(1, math.Abs(X.Data[i])) {
			t.Errorf("inverse: %v, want %v", v, X.Data[i])
		}
	}
}

// TestSignedLog1p: a value below -1 (net revenue of a customer whose
// returns exceed their purchases) is scaled by -log1p(|x|), not refused or
// NaN; non-negative values keep plain log1p; the transform is monotone and
// Inverse undoes it.
func TestSignedLog1p(t *testing.T) {
	raw := []float64{-77183, -2, -1, -0.5, 0, 0.5, 3, 99}
	rows := make([][]float64, len(raw))
	for i, v := range raw {
		rows[i] = []float64{v}
	}
	X, _ := MatrixFromRows(rows)
	for _, mode := range []Scaling{ScaleLog1p, ScaleLog1pZScore} {
		sc, err := FitScaler(X, []Scaling{mode}, []string{"monetary_value"})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		Y, err := sc.Transform(X)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		// Restated: sign(x)·ln(1+|x|), then the z-score of those values.
		pre := make([]float64, len(raw))
		for i, v := range raw {
			pre[i] = math.Copysign(math.Log(1+math.Abs(v)), v)
		}
		m, sd := 0.0, 1.0
		if mode == ScaleLog1pZScore {
			for _, v := range pre {
				m += v
			}
			m /= float64(len(pre))
			var ss float64
			for _, v := range pre {
				ss += (v - m) * (v - m)
			}
			sd = math.Sqrt(ss / float64(len(pre)))
		}
		for i, v := range raw {
			got, want := Y.Row(i)[0], (pre[i]-m)/sd
			if math.IsNaN(got) || math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Errorf("%s: %v scaled to %v, want %v", mode, v, got, want)
			}
			if i > 0 && !(got > Y.Row(i - 1)[0]) {
				t.Errorf("%s: not increasing at %v: %v after %v", mode, v, got, Y.Row(i - 1)[0])
			}
			if v >= 0 && mode == ScaleLog1p && got != math.Log1p(v) {
				t.Errorf("%v: %v, want log1p %v", v, got, math.Log1p(v))
			}
			if back := sc.Inverse(0, got); math.Abs(back-v) > 1e-9*math.Max(1, math.Abs(v)) {
				t.Errorf("%s: inverse of %v is %v, want %v", mode, got, back, v)
			}
		}
	}
}

func TestAppendOneHot(t *testing.T) {
	X, _ := MatrixFromRows([][]float64{{1}, {2}, {3}})
	Y, err := AppendOneHot(X, []int32{2, 0, -1}, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	weight := 2.0
	w := weight / math.Sqrt2 // at run time, as the code does
	want := []float64{1, 0, 0, w, 2, w, 0, 0, 3, 0, 0, 0}
	if Y.D != 4 || !slices.Equal(Y.Data, want) {
		t.Errorf("got %v (d=%d), want %v", Y.Data, Y.D, want)
	}
	// Two rows differing only in the category are weight apart.
	a, _ := AppendOneHot(Matrix{Data: []float64{0, 0}, N: 2, D: 1}, []int32{0, 1}, 2, 2)
	if d := math.Sqrt(sqDist(a.Row(0), a.Row(1))); math.Abs(d-2) > 1e-15 {
		t.Errorf("category mismatch distance %v, want 2", d)
	}
	if _, err := AppendOneHot(X, []int32{0, 3, 1}, 3, 1); err == nil {
		t.Error("code ≥ levels accepted")
	}
}

// TestFitTransformInPlace: the one-log fit-and-scale gives FitScaler's
// scaler and TransformInPlace's matrix to the bit, for every mix of modes,
// negative values (the signed log) and a constant column; on error the
// matrix is left as it was.
func TestFitTransformInPlace(t *testing.T) {
	X, _, _ := blobs(1001, 4, 3, 2, 5)
	for i := range X.N {
		X.Data[i*4+1] *= 1000
		X.Data[i*4+3] = 7 // constant
	}
	tests := [][]Scaling{
		{ScaleLog1pZScore, ScaleLog1pZScore, ScaleLog1pZScore, ScaleLog1pZScore},
		{ScaleNone, ScaleLog1p, ScaleZScore, ScaleLog1pZScore},
		{ScaleLog1p, ScaleLog1p, ScaleNone, ScaleLog1p},
		{ScaleZScore, ScaleNone, ScaleZScore, ScaleZScore},
	}
	for _, modes := range tests {
		t.Run(fmt.Sprint(modes), func(t *testing.T) {
			want, err := FitScaler(X, modes, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantX := Matrix{Data: slices.Clone(X.Data), N: X.N, D: X.D}
			if err := want.TransformInPlace(wantX); err != nil {
				t.Fatal(err)
			}
			gotX := Matrix{Data: slices.Clone(X.Data), N: X.N, D: X.D}
			got, err := FitTransformInPlace(gotX, modes, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Mean, want.Mean) || !slices.Equal(got.Std, want.Std) || !slices.Equal(got.Modes, want.Modes) {
				t.Errorf("scaler %+v, want %+v", got, want)
			}
			if !slices.Equal(gotX.Data, wantX.Data) {
				t.Error("scaled matrices differ")
			}
		})
	}
	bad := Matrix{Data: slices.Clone(X.Data), N: X.N, D: X.D}
	if _, err := FitTransformInPlace(bad, []Scaling{ScaleLog1p, "cube", ScaleNone, ScaleNone}, nil); err == nil {
		t.Fatal("unknown scaling accepted")
	}
	if !slices.Equal(bad.Data, X.Data) {
		t.Error("a failed fit changed the matrix")
	}
}
