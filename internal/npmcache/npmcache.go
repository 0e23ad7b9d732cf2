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
)

// Install makes sure pkg@version is installed and returns the directory
// whose node_modules holds it: $envDir when set, else strata-test/name
// under the user's cache directory.
func Install(name, envDir, pkg, version string) (string, error) {
	d := os.Getenv(envDir)
	if d == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find a cache directory: %w", err)
		}
		d = filepath.Join(cache, "strata-test", name)
	}
	mod := filepath.Join(d, "node_modules", filepath.FromSlash(pkg), "package.json")
	if data, err := os.ReadFile(mod); err == nil && bytes.Contains(data, []byte(`"version": "`+version+`"`)) {
		return d, nil
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", d, pkg+"@"+version)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("npm install %s@%s: %v\n%s", pkg, version, err, out)
	}
	return d, nil
}
