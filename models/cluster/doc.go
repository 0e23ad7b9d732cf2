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
// the wall time, never a bit of the result, and neither does whether the
// CPU has the vector units the fast kernels use:
//   - restart r draws from its own PCG stream derived from (Seed, r);
//   - every reduction over rows is done in fixed chunks of chunkRows rows
//     whose partial results are merged in chunk order, whoever computed them;
//   - every squared distance that decides a label, a bound or an inertia is
//     computed in one canonical order (kernel.go), by the vector kernels on
//     amd64 with AVX2 and FMA and by portable Go elsewhere, to the same bits
//     (other architectures may still differ in the last bits elsewhere: Go
//     fuses multiply-adds there);
//   - ties go to the lower index: the lower centre in the nearest-centre step,
//     the earlier restart when two restarts reach the same inertia.
//
// # Algorithms
//
// Restarts run in lockstep (engine.go): each pass over the rows does one
// step of every restart in flight — a k-means++ step, a Lloyd or Hamerly
// iteration, the final assignment — block by block, so that a block is read
// from memory once for all of them. Each restart still computes exactly what
// it would alone.
//
// Seeding is sklearn's greedy k-means++ (2+⌊ln k⌋ candidates per step), one
// pass per step. Lloyd's iteration takes the argmin of the distances by
// comparing their bit patterns as integers, which compiles to conditional
// moves: on streaming data the nearest centre is unpredictable and a
// compare-and-branch mispredicts often enough to double the cost of an
// iteration. Hamerly's bounds skip most distance computations once centres
// settle; the rows they do not settle are listed without a branch and
// rescanned together. Centre sums are kept per chunk across iterations and
// updated only by the rows that change cluster (so an iteration need not
// read the rows that stay); centroids are the cluster means up to the
// rounding of those updates. Lloyd and Hamerly produce bit-identical
// centroids and labels from the same initial centres: the bounds only decide
// which rows to rescan and are kept conservative by a relative margin far
// larger than the rounding error of the distances, so both change the same
// labels of the same rows, in the same order. Auto picks between them (see
// autoAlgorithm).
package cluster
