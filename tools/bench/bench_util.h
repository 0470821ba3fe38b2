/* SPDX-License-Identifier: MPL-2.0 */
/* Helpers shared by the benchmark programs: clocks, latency samples and percentiles, a server
 * process's CPU time and memory from /proc, the file limit, and source addresses in 127.0.0.0/8. */
#ifndef WAKKS_BENCH_UTIL_H
#define WAKKS_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);
void bench_sleep_ms(int ms);

/* A growable array of latency samples in microseconds. Not thread-safe: one per thread, merged
 * with bench_samples_merge() after the threads have stopped. */
struct bench_samples {
	uint32_t *v;
	size_t n, cap;
};
void bench_samples_add(struct bench_samples *s, uint64_t us);
void bench_samples_merge(struct bench_samples *dst, const struct bench_samples *src);
/* Sorts the samples; then bench_samples_pct() returns the q-quantile (0..1) in microseconds. */
void bench_samples_sort(struct bench_samples *s);
double bench_samples_pct(const struct bench_samples *s, double q);
void bench_samples_free(struct bench_samples *s);

/* user + system CPU seconds of process pid from /proc/PID/stat; -1 on error. */
double bench_proc_cpu_seconds(pid_t pid);
/* A "Vm..." or "Rss..." field of /proc/PID/status in KiB (e.g. "VmHWM", "VmRSS"); -1 on error. */
long bench_proc_status_kib(pid_t pid, const char *field);

/* Bytes process pid caused to be written to storage (write_bytes of /proc/PID/io); -1 on error. */
long long bench_proc_disk_write_bytes(pid_t pid);

/* Seconds the threads of process pid spent runnable but waiting for a CPU (sum over threads,
 * /proc/PID/task/TID/schedstat); -1 when the kernel does not keep these statistics. */
double bench_proc_runqueue_seconds(pid_t pid);

/* Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the new soft limit. */
long bench_raise_nofile(void);

/* Source address number k (k >= 0) in 127.0.0.0/8, avoiding 127.0.0.1: 127.1.x.y, in network
 * byte order, for bind() before connect(). */
uint32_t bench_source_addr(unsigned k);

/* A TCP socket bound to source address k, non-blocking, TCP_NODELAY, connecting to
 * 127.0.0.1:port (connect in progress). Returns the fd or -1. */
int bench_tcp_connect(unsigned src, int port, int nonblocking);

#endif
