// Package npmcache installs a pinned npm package once into a cache
// directory for the tools the tests drive through node (DuckDB, the
// browser driver), and reuses it while the pinned version is there.
package npmcache

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Package is one pinned npm package.
type Package struct{ Name, Version string }

// Install makes sure pkg@version is installed and returns the directory
// whose node_modules holds it: $envDir when set, else strata-test/name
// under the user's cache directory.
func Install(name, envDir, pkg, version string) (string, error) {
	return InstallAll(name, envDir, Package{pkg, version})
}

// InstallAll is Install for packages that go together (a package and its
// platform binary): one npm install of them all, exact versions (-E),
// unless every one is there at its pinned version already.
func InstallAll(name, envDir string, pkgs ...Package) (string, error) {
	d := os.Getenv(envDir)
	if d == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find a cache directory: %w", err)
		}
		d = filepath.Join(cache, "strata-test", name)
	}
	have := true
	args := []string{"install", "--no-audit", "--no-fund", "-E", "--prefix", d}
	for _, p := range pkgs {
		mod := filepath.Join(d, "node_modules", filepath.FromSlash(p.Name), "package.json")
		data, err := os.ReadFile(mod)
		have = have && err == nil && bytes.Contains(data, []byte(`"version": "`+p.Version+`"`))
		args = append(args, p.Name+"@"+p.Version)
	}
	if have {
		return d, nil
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("npm", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("npm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return d, nil
}
