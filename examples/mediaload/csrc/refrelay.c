/*
 * refrelay: the reference relays of mediaload (examples/mediaload).
 *
 * Built plain, the floor a UDP media relay can reach on this kernel: one
 * thread, one epoll set over every socket, and for each readable socket
 * one recvfrom and one sendto of the datagram, unchanged, from the paired
 * socket to that socket's peer. No SRTP, no source or header checks, no
 * allocation.
 *
 * Built with -DWITH_SRTP (and -lsrtp2), the same relay doing the SRTP work
 * byocp does on side B (Zoom), with libsrtp2 as C media engines use it: a
 * datagram from side A (plain RTP) is srtp_protect'ed with the call's side
 * B local key before it is sent to side B's peer; a datagram from side B
 * is srtp_unprotect'ed with the call's side B remote key (authenticated,
 * replay window of 64 packets as byocp's) before it is sent to side A's
 * peer, and dropped and counted if that fails. Each call has two srtp_t,
 * one per direction (an outbound and an inbound session, as FreeSWITCH
 * keeps a send and a receive context per RTP session): libsrtp lets a
 * session's wildcard SSRC match inbound or outbound streams, not both.
 * Nothing else differs from the floor.
 *
 * Sockets come in pairs per call: 2i is the call's side A (carrier), 2i+1
 * its side B (Zoom); a datagram read on one is sent from the other. The
 * control channel is stdin/stdout, one command a line:
 *
 *   srtp SUITE L0 R0 L1 R1 ...
 *                     WITH_SRTP only, first: side B's keys per call
 *                     (master key and salt, hex), Li local, Ri remote;
 *                     SUITE AES_CM_128_HMAC_SHA1_80 or _32
 *   calls N MIN MAX   bind 2N sockets on 127.0.0.1, even ports in [MIN, MAX]
 *                     -> ports P0 P1 ...
 *   remotes R0 R1 ... the peer port on 127.0.0.1 of each socket -> ready
 *   mark              -> mark MONO_NS UTIME_US STIME_US received=.. forwarded=.. sendFailed=.. preempted=..
 *                        (WITH_SRTP: and protected=.. unprotected=.. protectFailed=.. unprotectFailed=..)
 *   stop              -> bye, and exit
 *
 * End of stdin also exits, and so does MEDIALOAD_DEADLINE seconds after
 * start (SIGALRM), so the relay never outlives its run. With WITH_SRTP,
 * "refrelay version" prints libsrtp's version and crypto and exits.
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

#ifdef WITH_SRTP
#include <srtp2/cipher.h>
#include <srtp2/srtp.h>

/*
 * The crypto libsrtp was built with (its own, OpenSSL or NSS, for AES and
 * HMAC alike), told by its AES-CM's description. Weak: an internal name,
 * so that a libsrtp without it still links.
 */
extern const srtp_cipher_type_t srtp_aes_icm_128 __attribute__((weak));

static srtp_t *outbound, *inbound; /* per call: side B's send and receive sessions */
static unsigned long long protected, unprotected, protect_failed, unprotect_failed;

static int unhex(unsigned char *dst, const char *src, size_t n) {
	if (strlen(src) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (sscanf(src + 2 * i, "%2hhx", &dst[i]) != 1)
			return -1;
	return 0;
}

/* session creates an SRTP session for all SSRCs of one direction. */
static srtp_t session(const char *suite, const char *hexkey, srtp_ssrc_type_t dir) {
	srtp_policy_t p;
	memset(&p, 0, sizeof p);
	if (strcmp(suite, "AES_CM_128_HMAC_SHA1_80") == 0)
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
	else if (strcmp(suite, "AES_CM_128_HMAC_SHA1_32") == 0)
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp);
	else {
		fprintf(stderr, "refrelay: SRTP suite %s not supported\n", suite);
		exit(1);
	}
	srtp_crypto_policy_set_rtcp_default(&p.rtcp);
	unsigned char key[SRTP_MAX_KEY_LEN];
	if (unhex(key, hexkey, (size_t)p.rtp.cipher_key_len) < 0) {
		fprintf(stderr, "refrelay: want a %d-byte SRTP key in hex, have %s\n", p.rtp.cipher_key_len, hexkey);
		exit(1);
	}
	p.ssrc.type = dir;
	p.key = key;
	p.window_size = 64;
	srtp_t s;
	srtp_err_status_t err = srtp_create(&s, &p);
	if (err != srtp_err_status_ok) {
		fprintf(stderr, "refrelay: srtp_create: error %d\n", err);
		exit(1);
	}
	return s;
}

/*
 * read_keys reads the srtp line before calls, and keys_to_sessions makes
 * the sessions once the number of calls is known.
 */
static char *keys_line;

static void read_keys(void) {
	size_t cap = 0;
	if (getline(&keys_line, &cap, stdin) < 0 || strncmp(keys_line, "srtp ", 5) != 0) {
		fprintf(stderr, "refrelay: expected: srtp SUITE KEYS...\n");
		exit(1);
	}
}

static void keys_to_sessions(int calls) {
	outbound = calloc((size_t)calls, sizeof *outbound);
	inbound = calloc((size_t)calls, sizeof *inbound);
	if (outbound == NULL || inbound == NULL)
		die("calloc");
	char *save;
	strtok_r(keys_line, " \n", &save); /* srtp */
	const char *suite = strtok_r(NULL, " \n", &save);
	for (int i = 0; i < calls; i++) {
		const char *local = strtok_r(NULL, " \n", &save);
		const char *remote = strtok_r(NULL, " \n", &save);
		if (suite == NULL || remote == NULL) {
			fprintf(stderr, "refrelay: srtp: want a suite and %d key pairs\n", calls);
			exit(1);
		}
		outbound[i] = session(suite, local, ssrc_any_outbound);
		inbound[i] = session(suite, remote, ssrc_any_inbound);
	}
	free(keys_line);
}

/*
 * relay_srtp turns the datagram of len bytes in buf, read on socket i,
 * into what goes out of the paired socket: SRTP from plain RTP (side A to
 * B), or plain RTP from SRTP (B to A), in place. It returns 0 to drop it.
 */
static int relay_srtp(uint32_t i, void *buf, ssize_t *len) {
	int n = (int)*len;
	if ((i & 1) == 0) {
		if (srtp_protect(outbound[i / 2], buf, &n) != srtp_err_status_ok) {
			protect_failed++;
			return 0;
		}
		protected++;
	} else {
		if (srtp_unprotect(inbound[i / 2], buf, &n) != srtp_err_status_ok) {
			unprotect_failed++;
			return 0;
		}
		unprotected++;
	}
	*len = n;
	return 1;
}

#define TRAILER SRTP_MAX_TRAILER_LEN
#else
#define TRAILER 0
#endif

int main(int argc, char **argv) {
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
#ifdef WITH_SRTP
	if (argc > 1 && strcmp(argv[1], "version") == 0) {
		printf("%s, %s\n", srtp_get_version_string(),
		       &srtp_aes_icm_128 != NULL ? srtp_aes_icm_128.description : "crypto unknown");
		return 0;
	}
	if (srtp_init() != srtp_err_status_ok) {
		fprintf(stderr, "refrelay: srtp_init failed\n");
		return 1;
	}
#else
	(void)argc;
	(void)argv;
#endif
	const char *deadline = getenv("MEDIALOAD_DEADLINE");
	if (deadline != NULL && atoi(deadline) > 0)
		alarm((unsigned)atoi(deadline));

	int calls, lo, hi;
#ifdef WITH_SRTP
	read_keys();
#endif
	if (scanf(" calls %d %d %d", &calls, &lo, &hi) != 3 || calls < 1) {
		fprintf(stderr, "refrelay: expected: calls N MIN MAX\n");
		return 1;
	}
#ifdef WITH_SRTP
	keys_to_sessions(calls);
#endif
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
	static _Alignas(8) char buf[2048 + TRAILER]; /* aligned and with room for the SRTP trailer, as libsrtp wants */
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
						printf("mark %lld %lld %lld received=%llu forwarded=%llu sendFailed=%llu preempted=%ld", now_ns(),
						       (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
						       (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec,
						       received, forwarded, send_failed, ru.ru_nivcsw);
#ifdef WITH_SRTP
						printf(" protected=%llu unprotected=%llu protectFailed=%llu unprotectFailed=%llu", protected,
						       unprotected, protect_failed, unprotect_failed);
#endif
						printf("\n");
						fflush(stdout);
					} else if (strcmp(cmd, "stop") == 0) {
						printf("bye\n");
						fflush(stdout);
						return 0;
					}
				}
				continue;
			}
			ssize_t len = recvfrom(fd[i], buf, 2048, 0, NULL, NULL);
			if (len < 0)
				continue;
			received++;
#ifdef WITH_SRTP
			if (!relay_srtp(i, buf, &len))
				continue;
#endif
			uint32_t o = i ^ 1;
			if (sendto(fd[o], buf, (size_t)len, 0, (struct sockaddr *)&peer[o], sizeof peer[o]) == len)
				forwarded++;
			else
				send_failed++;
		}
	}
}
