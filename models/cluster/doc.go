// Package cluster partitions customers into segments: it fits k-means,
// chooses k, scales features, profiles and names the clusters and keeps
// cluster ids stable across runs.
//
// Everything here is a pure function of its inputs. Data is a Matrix: n rows
// of d contiguous float64 values, row-major, so that the distance kernel
// streams memory linearly. Nothing reads files, logs or keeps global state.
//
// # Determinism
//
// A fit is a function of (data, Config) only; the number of workers changes
// the wall time, never a bit of the result. To get there:
//   - restart r draws from its own PCG stream derived from (Seed, r);
//   - every reduction over rows is done in fixed chunks of chunkRows rows
//     whose partial results are merged in chunk order, whoever computed them;
//   - ties go to the lower index: the lower centre in the nearest-centre step,
//     the earlier restart when two restarts reach the same inertia.
//
// # Algorithms
//
// Lloyd's iteration uses a branch-free argmin over the centres: on streaming
// data the nearest centre is unpredictable and a compare-and-branch
// mispredicts often enough to double the cost of an iteration. Hamerly's
// bounds skip most distance computations once centres settle; their
// bookkeeping costs a couple of loads and stores per row, so they pay only
// when a full scan of the k centres is expensive (see Auto for
// the rule). Both produce bit-identical centroids and labels from the same
// initial centres: Hamerly's bounds are kept conservative by a relative
// margin far larger than the rounding error of the distances, and centre sums
// are recomputed in the same chunk order as Lloyd's.
package cluster
