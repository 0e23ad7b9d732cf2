package s3_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
)

// BenchmarkReaderAt measures ranged-read throughput against versitygw for
// the read sizes parquet-go issues with and without ReadBufferSize(4<<20).
func BenchmarkReaderAt(b *testing.B) {
	const size = 64 << 20
	srv := s3test.Start(b)
	bkt := srv.NewBucket(b, "strata-bench", "")
	if err := bkt.Upload(b.Context(), "obj", bytes.NewReader(randomBytes(b, size))); err != nil {
		b.Fatal(err)
	}
	ra, _, err := bkt.ReaderAt(b.Context(), "obj")
	if err != nil {
		b.Fatal(err)
	}
	for _, chunk := range []int{64 << 10, 1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("read=%dKiB", chunk>>10), func(b *testing.B) {
			buf := make([]byte, chunk)
			b.SetBytes(size)
			for b.Loop() {
				for off := int64(0); off < size; off += int64(chunk) {
					if _, err := ra.ReadAt(buf, off); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
	b.Run("read=4096KiB/parallel=4", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			done := make(chan error, 4)
			for g := range 4 {
				go func() {
					buf := make([]byte, 4<<20)
					for off := int64(g) * (4 << 20); off < size; off += 4 * (4 << 20) {
						if _, err := ra.ReadAt(buf, off); err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()
			}
			for range 4 {
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
