/*
 * refrelay: the reference relay of mediaload (examples/mediaload).
 *
 * The floor a UDP media relay can reach on this kernel: one thread, one
 * epoll set over every socket, and for each readable socket one recvfrom
 * and one sendto of the datagram, unchanged, from the paired socket to
 * that socket's peer. No SRTP, no source or header checks, no allocation.
 *
 * Sockets come in pairs per call: 2i is the call's side A (carrier), 2i+1
 * its side B (Zoom); a datagram read on one is sent from the other. The
 * control channel is stdin/stdout, one command a line:
 *
 *   calls N MIN MAX   bind 2N sockets on 127.0.0.1, even ports in [MIN, MAX]
 *                     -> ports P0 P1 ...
 *   remotes R0 R1 ... the peer port on 127.0.0.1 of each socket -> ready
 *   mark              -> mark MONO_NS UTIME_US STIME_US received=.. forwarded=.. sendFailed=.. preempted=..
 *   stop              -> bye, and exit
 *
 * End of stdin also exits, and so does MEDIALOAD_DEADLINE seconds after
 * start (SIGALRM), so the relay never outlives its run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CTRL 0xffffffffu

static void die(const char *what) {
	fprintf(stderr, "refrelay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	const char *deadline = getenv("MEDIALOAD_DEADLINE");
	if (deadline != NULL && atoi(deadline) > 0)
		alarm((unsigned)atoi(deadline));

	int calls, lo, hi;
	if (scanf(" calls %d %d %d", &calls, &lo, &hi) != 3 || calls < 1) {
		fprintf(stderr, "refrelay: expected: calls N MIN MAX\n");
		return 1;
	}
	int n = 2 * calls;
	int *fd = calloc(n, sizeof *fd);
	int *port = calloc(n, sizeof *port);
	struct sockaddr_in *peer = calloc(n, sizeof *peer);
	if (fd == NULL || port == NULL || peer == NULL)
		die("calloc");

	int next = lo + (lo & 1);
	for (int i = 0; i < n; i++) {
		int s = -1;
		for (; next + 1 <= hi; next += 2) {
			s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (s < 0)
				die("socket");
			struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)next)};
			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (bind(s, (struct sockaddr *)&a, sizeof a) == 0)
				break;
			close(s);
			s = -1;
		}
		if (s < 0) {
			fprintf(stderr, "refrelay: no free port left in %d-%d\n", lo, hi);
			return 1;
		}
		fd[i] = s;
		port[i] = next;
		next += 2;
	}
	printf("ports");
	for (int i = 0; i < n; i++)
		printf(" %d", port[i]);
	printf("\n");
	fflush(stdout);

	if (scanf(" remotes") != 0) {
		fprintf(stderr, "refrelay: expected: remotes ...\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		int p;
		if (scanf("%d", &p) != 1) {
			fprintf(stderr, "refrelay: remotes: want %d ports\n", n);
			return 1;
		}
		peer[i].sin_family = AF_INET;
		peer[i].sin_port = htons((uint16_t)p);
		peer[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only */
	}

	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev) < 0)
			die("epoll_ctl");
	}
	struct epoll_event cev = {.events = EPOLLIN, .data.u32 = CTRL};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &cev) < 0)
		die("epoll_ctl stdin");
	printf("ready\n");
	fflush(stdout);

	unsigned long long received = 0, forwarded = 0, send_failed = 0;
	static char buf[2048];
	static char cmd[256];
	size_t cmdlen = 0;
	struct epoll_event evs[256];
	for (;;) {
		int k = epoll_wait(ep, evs, 256, -1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int j = 0; j < k; j++) {
			uint32_t i = evs[j].data.u32;
			if (i == CTRL) {
				char c[64];
				ssize_t r = read(0, c, sizeof c);
				if (r <= 0)
					return 0;
				for (ssize_t x = 0; x < r; x++) {
					if (c[x] != '\n') {
						if (cmdlen < sizeof cmd - 1)
							cmd[cmdlen++] = c[x];
						continue;
					}
					cmd[cmdlen] = 0;
					cmdlen = 0;
					if (strcmp(cmd, "mark") == 0) {
						struct rusage ru;
						getrusage(RUSAGE_SELF, &ru);
						printf("mark %lld %lld %lld received=%llu forwarded=%llu sendFailed=%llu preempted=%ld\n", now_ns(),
						       (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
						       (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec,
						       received, forwarded, send_failed, ru.ru_nivcsw);
						fflush(stdout);
					} else if (strcmp(cmd, "stop") == 0) {
						printf("bye\n");
						fflush(stdout);
						return 0;
					}
				}
				continue;
			}
			ssize_t len = recvfrom(fd[i], buf, sizeof buf, 0, NULL, NULL);
			if (len < 0)
				continue;
			received++;
			uint32_t o = i ^ 1;
			if (sendto(fd[o], buf, (size_t)len, 0, (struct sockaddr *)&peer[o], sizeof peer[o]) == len)
				forwarded++;
			else
				send_failed++;
		}
	}
}
