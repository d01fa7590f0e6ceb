# Sourced by the memory benchmarks (bench_predict_memory.sh, bench_predict_join.sh, bench_train_join.sh,
# bench_memory_audit.sh): peak CMD... prints the peak resident memory (KiB) and wall seconds of a command,
# measured by the kernel for the child (getrusage RUSAGE_CHILDREN); the command's stdout is discarded, its
# stderr shown only when it fails, and a failure ends the benchmark.
peak() {
  /usr/bin/python3 -c 'import resource, subprocess, sys, time
t = time.time(); r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
if r.returncode: sys.exit(r.stderr.decode(errors="replace") + "failed: " + " ".join(sys.argv[1:]))
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, round(time.time() - t, 1))' "$@"
}
