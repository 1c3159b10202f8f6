#define _GNU_SOURCE
#include <sys/socket.h>
#include "CGreylistNIOSystem.h"

int greylist_nio_accept4(int descriptor, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(descriptor, address, length, flags);
}
