package s3test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// VersityGW returns the path of a versitygw binary, installing the pinned
// version with `go install` if none is found. Lookup order:
// $STRATA_VERSITYGW, versitygw on PATH, $(go env GOBIN), $(go env GOPATH)/bin.
func VersityGW() (string, error) {
	if p := os.Getenv("STRATA_VERSITYGW"); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("STRATA_VERSITYGW=%s is not an executable file", p)
		}
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	gobin, err := goBinDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(gobin, "versitygw")
	if isExecutable(bin) {
		return bin, nil
	}

	// Parallel test binaries (go test ./... runs one per package) would
	// otherwise all build versitygw at once; the first to take the lock
	// installs, the rest find the binary once they get it.
	if err := os.MkdirAll(gobin, 0o755); err != nil {
		return "", fmt.Errorf("install versitygw: %w", err)
	}
	unlock, err := lockFile(filepath.Join(os.TempDir(), "strata-versitygw-install.lock"))
	if err != nil {
		return "", fmt.Errorf("install versitygw: lock: %w", err)
	}
	defer unlock()
	if isExecutable(bin) {
		return bin, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	target := VersityGWModule + "@" + VersityGWVersion
	cmd := exec.CommandContext(ctx, "go", "install", target)
	// Outside any module, so Strata's go.mod and vendor settings play no part.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+gobin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("versitygw not found and `go install %s` failed (%v); "+
			"run scripts/install-versitygw.sh or set STRATA_VERSITYGW to a versitygw binary:\n%s",
			target, err, out)
	}
	if !isExecutable(bin) {
		return "", fmt.Errorf("`go install %s` succeeded but %s is missing", target, bin)
	}
	return bin, nil
}

func goBinDir() (string, error) {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOBIN GOPATH: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 2 && strings.TrimSpace(lines[0]) != "" {
		return strings.TrimSpace(lines[0]), nil
	}
	gopath := strings.TrimSpace(lines[len(lines)-1])
	if gopath == "" {
		return "", errors.New("go env reports neither GOBIN nor GOPATH")
	}
	// GOPATH may be a list; go install uses the first entry.
	return filepath.Join(filepath.SplitList(gopath)[0], "bin"), nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
