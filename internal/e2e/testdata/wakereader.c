/*
 * The C reader of TestReadWakeFloor: a raw IGMP socket read by one thread
 * blocking in recvmsg, as igmpproxy reads its own. For each message it
 * prints, in nanoseconds, the time from the kernel's receive timestamp
 * (SO_TIMESTAMPNS) to recvmsg returning, then exits after N messages.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	int one = 1;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_IGMP);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0) {
		perror("wakereader: socket");
		return 1;
	}
	for (int i = 0; i < n;) {
		char buf[2048], oob[256];
		struct iovec iov = { buf, sizeof buf };
		struct msghdr m = { 0 };
		struct timespec now;
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = oob;
		m.msg_controllen = sizeof oob;
		if (recvmsg(fd, &m, 0) < 0) {
			perror("wakereader: recvmsg");
			return 1;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(c), sizeof ts);
				printf("%ld\n", (long)(now.tv_sec - ts.tv_sec) * 1000000000L + (now.tv_nsec - ts.tv_nsec));
				i++;
			}
		}
	}
	return 0;
}
