package cluster

import (
	"context"
	"fmt"
	"strings"
)

// KScore holds the quality measures of the fit for one k.
type KScore struct {
	K                int
	Inertia          float64
	Silhouette       float64 // on the sample; higher is better
	CalinskiHarabasz float64 // higher is better
	DaviesBouldin    float64 // lower is better
}

// KChoice is the outcome of ChooseK.
type KChoice struct {
	K      int
	Reason string
	Scores []KScore // one per k, increasing k
}

// ChooseK fits KMeans for every k in [kMin, kMax] (kMin ≥ 2) and picks one.
//
// The rule: the k with the highest silhouette on a seeded sample of
// silhouetteSample rows (all rows if ≤ 0), the smaller k on an exact tie.
// Silhouette is the only one of the three measures that is comparable across
// k without a reference distribution: inertia always falls with k, and CH and
// DB drift with k on unclustered data. CH and DB are reported and the reason
// says whether they agree, so that a reader can spot a marginal choice.
//
// Every k uses cfg (cfg.K is ignored); cfg.Init is used as a warm start for
// the k values it has at most k rows for. The silhouette sample is drawn
// with cfg.Seed, so every k is scored on the same rows.
func ChooseK(ctx context.Context, X Matrix, kMin, kMax int, cfg Config, silhouetteSample int) (KChoice, []Result, error) {
	if kMin < 2 || kMax < kMin {
		return KChoice{}, nil, fmt.Errorf("choose k: invalid range [%d, %d] (need 2 ≤ kMin ≤ kMax)", kMin, kMax)
	}
	if kMax >= X.N {
		return KChoice{}, nil, fmt.Errorf("choose k: kMax=%d needs more than %d rows", kMax, X.N)
	}
	var (
		choice  KChoice
		results []Result
	)
	for k := kMin; k <= kMax; k++ {
		c := cfg
		c.K = k
		if len(c.Init) > k {
			c.Init = nil
		}
		res, err := KMeans(ctx, X, c)
		if err != nil {
			return KChoice{}, nil, fmt.Errorf("choose k: %w", err)
		}
		sc := KScore{K: k, Inertia: res.Inertia}
		if sc.Silhouette, err = Silhouette(ctx, X, res.Labels, k, silhouetteSample, cfg.Seed, cfg.Workers); err != nil {
			return KChoice{}, nil, fmt.Errorf("choose k=%d: %w", k, err)
		}
		if sc.CalinskiHarabasz, sc.DaviesBouldin, err = CalinskiHarabaszDaviesBouldin(ctx, X, res.Labels, k, cfg.Workers); err != nil {
			return KChoice{}, nil, fmt.Errorf("choose k=%d: %w", k, err)
		}
		choice.Scores = append(choice.Scores, sc)
		results = append(results, res)
	}
	bestS, bestCH, bestDB := 0, 0, 0
	for i, s := range choice.Scores {
		if s.Silhouette > choice.Scores[bestS].Silhouette {
			bestS = i
		}
		if s.CalinskiHarabasz > choice.Scores[bestCH].CalinskiHarabasz {
			bestCH = i
		}
		if s.DaviesBouldin < choice.Scores[bestDB].DaviesBouldin {
			bestDB = i
		}
	}
	choice.K = choice.Scores[bestS].K
	rows := fmt.Sprintf("on a %d-row sample", silhouetteSample)
	if silhouetteSample <= 0 || silhouetteSample >= X.N {
		rows = fmt.Sprintf("on all %d rows", X.N)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "k=%d: highest silhouette (%.2f) %s", choice.K, choice.Scores[bestS].Silhouette, rows)
	for _, o := range []struct {
		name string
		i    int
	}{{"CH", bestCH}, {"DB", bestDB}} {
		if o.i == bestS {
			fmt.Fprintf(&b, "; %s agrees", o.name)
		} else {
			fmt.Fprintf(&b, "; %s prefers k=%d", o.name, choice.Scores[o.i].K)
		}
	}
	choice.Reason = b.String()
	return choice, results, nil
}
