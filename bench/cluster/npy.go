package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// readNpy reads a 2-D little-endian float64 C-order .npy file (what numpy's
// np.save writes for the shared generator's output). Anything else is
// refused rather than guessed at: a silent transpose or byte swap would
// benchmark the wrong data.
func readNpy(path string) (data []float64, rows, cols int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var magic [8]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, 0, 0, fmt.Errorf("%s: reading magic: %w", path, err)
	}
	if string(magic[:6]) != "\x93NUMPY" {
		return nil, 0, 0, fmt.Errorf("%s: not a .npy file", path)
	}
	var hlen int
	switch magic[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, 0, 0, fmt.Errorf("%s: reading header length: %w", path, err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, 0, 0, fmt.Errorf("%s: reading header length: %w", path, err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, 0, 0, fmt.Errorf("%s: unsupported .npy version %d", path, magic[6])
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, 0, 0, fmt.Errorf("%s: reading header: %w", path, err)
	}
	rows, cols, err = parseNpyHeader(string(hdr))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	data = make([]float64, rows*cols)
	buf := make([]byte, 1<<16)
	for i := 0; i < len(data); {
		m := min(len(buf)/8, len(data)-i)
		if _, err := io.ReadFull(r, buf[:8*m]); err != nil {
			return nil, 0, 0, fmt.Errorf("%s: reading values %d..%d: %w", path, i, i+m, err)
		}
		for q := 0; q < m; q++ {
			data[i+q] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*q:]))
		}
		i += m
	}
	return data, rows, cols, nil
}

var (
	descrRe = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	fortRe  = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	shapeRe = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

func parseNpyHeader(h string) (rows, cols int, err error) {
	d := descrRe.FindStringSubmatch(h)
	if d == nil || (d[1] != "<f8" && d[1] != "=f8") {
		return 0, 0, fmt.Errorf("dtype must be little-endian float64 ('<f8'), header %q", h)
	}
	if fo := fortRe.FindStringSubmatch(h); fo == nil || fo[1] != "False" {
		return 0, 0, fmt.Errorf("need C order, header %q", h)
	}
	s := shapeRe.FindStringSubmatch(h)
	if s == nil {
		return 0, 0, fmt.Errorf("no shape in header %q", h)
	}
	var dims []int
	for _, p := range strings.Split(s[1], ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		v, err := strconv.Atoi(p)
		if err != nil {
			return 0, 0, fmt.Errorf("shape %q: %w", s[1], err)
		}
		dims = append(dims, v)
	}
	if len(dims) != 2 {
		return 0, 0, fmt.Errorf("need a 2-D array, shape is (%s)", s[1])
	}
	return dims[0], dims[1], nil
}
