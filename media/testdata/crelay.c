/*
 * crelay is the minimal relay the media engine is compared with (see
 * BenchmarkMediaLoad): one thread, one level-triggered epoll set over
 * non-blocking UDP sockets, one recvfrom per ready socket and one sendto
 * per packet. No SRTP, no checks: what a relay cannot do with less.
 *
 * The benchmark passes the relay's sockets as inherited descriptors and
 * writes one line per direction on stdin, "in out ip port" (IPv4), then
 * "go". After that every line "mark" is answered on stdout with
 * "user_ns sys_ns packets". End of stdin ends the relay.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 65536

static int out_fd[MAXFD];
static struct sockaddr_in dest[MAXFD];

static void mark(unsigned long long packets) {
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%llu %llu %llu\n",
	       (unsigned long long)ru.ru_utime.tv_sec * 1000000000ull + ru.ru_utime.tv_usec * 1000ull,
	       (unsigned long long)ru.ru_stime.tv_sec * 1000000000ull + ru.ru_stime.tv_usec * 1000ull,
	       packets);
	fflush(stdout);
}

int main(void) {
	int ep = epoll_create1(0);
	char line[256], ip[64];
	int in, out, port;
	while (fgets(line, sizeof line, stdin) && strncmp(line, "go", 2) != 0) {
		if (sscanf(line, "%d %d %63s %d", &in, &out, ip, &port) != 4 || in >= MAXFD)
			return 2;
		out_fd[in] = out;
		dest[in].sin_family = AF_INET;
		dest[in].sin_port = htons(port);
		inet_pton(AF_INET, ip, &dest[in].sin_addr);
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = in};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev) != 0)
			return 3;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = 0};
	epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
	printf("ready\n");
	fflush(stdout);

	unsigned long long packets = 0;
	static char buf[2048];
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == 0) {
				if (!fgets(line, sizeof line, stdin))
					return 0;
				mark(packets);
				continue;
			}
			ssize_t len = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL);
			if (len <= 0)
				continue;
			if (sendto(out_fd[fd], buf, len, 0, (struct sockaddr *)&dest[fd], sizeof dest[fd]) == len)
				packets++;
		}
	}
}
