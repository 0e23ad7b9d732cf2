# Shared by the bench/*/run.sh scripts (sourced, not run): the machine lock
# and the wait for a quiet machine, so that no side is timed while someone
# else's job runs. The caller sets $lock (a lock file, or empty when it
# already holds one) and $max_busy (a CPU %).

# locked CMD... runs CMD holding the benchmark lock.
locked() { if [ -n "$lock" ]; then flock "$lock" "$@"; else "$@"; fi; }

# busy prints the % of CPU time the whole machine spent busy over 2 s.
busy() {
	local a b
	read -r -a a < <(grep '^cpu ' /proc/stat)
	sleep 2
	read -r -a b < <(grep '^cpu ' /proc/stat)
	local ta=0 tb=0 i
	for i in 1 2 3 4 5 6 7 8; do ta=$((ta + a[i])); tb=$((tb + b[i])); done
	local idle=$(((b[4] + b[5]) - (a[4] + a[5]))) total=$((tb - ta))
	echo $((total > 0 ? 100 * (total - idle) / total : 0))
}

# wait_quiet waits (up to 10 min) until the machine is less than $max_busy
# % busy; it prints the last busy %.
wait_quiet() {
	local b waited=0
	while b=$(busy); [ "$b" -ge "$max_busy" ] && [ $waited -lt 600 ]; do
		echo "run.sh: machine ${b}% busy, waiting" >&2
		sleep 8
		waited=$((waited + 10))
	done
	echo "$b"
}
