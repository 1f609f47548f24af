// ping: eventfd round trips to an echo process, paced, timed with
// CLOCK_MONOTONIC from the write to the read's return.
//
//   ping N GAP_US ECHO [ARGS...]
//
// Creates two blocking eventfds, starts ECHO with their descriptor numbers
// appended to ARGS (request, then answer), waits GAP_US microseconds
// before each of 100 + N round trips (0: back to back) and prints p50, p90
// and p99 of the last N. See README.md.
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double now_us(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: ping N GAP_US ECHO [ARGS...]\n");
		return 2;
	}
	int n = atoi(argv[1]), gap = atoi(argv[2]);
	int req = eventfd(0, 0), ans = eventfd(0, 0);
	if (n <= 0 || req < 0 || ans < 0) {
		perror("ping");
		return 1;
	}
	char sreq[16], sans[16];
	snprintf(sreq, sizeof sreq, "%d", req);
	snprintf(sans, sizeof sans, "%d", ans);
	char **eargv = calloc(argc, sizeof *eargv);
	int k = 0;
	for (int i = 3; i < argc; i++) eargv[k++] = argv[i];
	eargv[k++] = sreq;
	eargv[k++] = sans;
	pid_t pid = fork();
	if (pid == 0) {
		execvp(eargv[0], eargv);
		perror("exec");
		_exit(1);
	}
	double *rt = malloc(sizeof(double) * n);
	uint64_t one = 1, got;
	struct timespec ts = {gap / 1000000, (gap % 1000000) * 1000};
	for (int i = 0; i < n + 100; i++) {
		if (gap) nanosleep(&ts, NULL);
		double t0 = now_us();
		if (write(req, &one, 8) != 8 || read(ans, &got, 8) != 8) {
			perror("ping");
			kill(pid, SIGKILL);
			return 1;
		}
		if (i >= 100) rt[i - 100] = now_us() - t0;
	}
	kill(pid, SIGKILL);
	qsort(rt, n, sizeof(double), cmp);
	printf("%s gap=%dus n=%d p50=%.1fus p90=%.1fus p99=%.1fus\n", argv[3], gap, n, rt[n / 2],
	       rt[n * 9 / 10], rt[n * 99 / 100]);
	return 0;
}
