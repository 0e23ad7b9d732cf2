package clv

import "fmt"

// ModelFromParams rebuilds the purchase model called name from its
// Params, as model.json and a published fit record them: how the shards of
// a sharded run score with the model the fit step estimated.
func ModelFromParams(name string, p map[string]float64) (PurchaseModel, error) {
	get := func(keys ...string) ([]float64, error) {
		out := make([]float64, len(keys))
		for i, k := range keys {
			v, ok := p[k]
			if !ok {
				return nil, fmt.Errorf("clv: %s parameters lack %s", name, k)
			}
			out[i] = v
		}
		return out, nil
	}
	var v []float64
	var err error
	switch name {
	case "bgnbd":
		if v, err = get("r", "alpha", "a", "b"); err == nil {
			return BGNBD{R: v[0], Alpha: v[1], A: v[2], B: v[3]}, nil
		}
	case "mbgnbd":
		if v, err = get("r", "alpha", "a", "b"); err == nil {
			return MBGNBD{R: v[0], Alpha: v[1], A: v[2], B: v[3]}, nil
		}
	case "pnbd":
		if v, err = get("r", "alpha", "s", "beta"); err == nil {
			return ParetoNBD{R: v[0], Alpha: v[1], S: v[2], Beta: v[3]}, nil
		}
	case "nbd":
		if v, err = get("r", "alpha"); err == nil {
			return NBD{R: v[0], Alpha: v[1]}, nil
		}
	default:
		return nil, fmt.Errorf("clv: unknown purchase model %q", name)
	}
	return nil, err
}

// GammaGammaFromParams rebuilds a Gamma-Gamma spend model from its Params.
func GammaGammaFromParams(p map[string]float64) (GammaGamma, error) {
	for _, k := range []string{"p", "q", "gamma"} {
		if _, ok := p[k]; !ok {
			return GammaGamma{}, fmt.Errorf("clv: gamma-gamma parameters lack %s", k)
		}
	}
	return GammaGamma{P: p["p"], Q: p["q"], Gamma: p["gamma"]}, nil
}
