package clv

import (
	"reflect"
	"testing"
)

// TestModelFromParamsRoundTrips: every model rebuilt from its Params is
// the model, and predicts what it predicts; missing or unknown parameters
// are errors.
func TestModelFromParamsRoundTrips(t *testing.T) {
	for _, m := range []PurchaseModel{
		BGNBD{R: 0.24, Alpha: 4.41, A: 0.79, B: 2.43},
		MBGNBD{R: 0.52, Alpha: 6.18, A: 0.89, B: 1.61},
		ParetoNBD{R: 0.55, Alpha: 10.58, S: 0.61, Beta: 11.67},
		NBD{R: 0.38, Alpha: 7.9},
	} {
		got, err := ModelFromParams(m.Name(), m.Params())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%s: rebuilt %+v", m.Name(), got)
		}
		if a, b := got.PAlive(2, 30, 38), m.PAlive(2, 30, 38); a != b {
			t.Errorf("%s: P(alive) %v vs %v", m.Name(), a, b)
		}
	}
	if _, err := ModelFromParams("bgnbd", map[string]float64{"r": 1}); err == nil {
		t.Error("missing parameters must fail")
	}
	if _, err := ModelFromParams("weibull", nil); err == nil {
		t.Error("an unknown model must fail")
	}
	gg := GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	if got, err := GammaGammaFromParams(gg.Params()); err != nil || got != gg {
		t.Errorf("gamma-gamma: %+v, %v", got, err)
	}
	if _, err := GammaGammaFromParams(map[string]float64{"p": 1}); err == nil {
		t.Error("missing gamma-gamma parameters must fail")
	}
}
