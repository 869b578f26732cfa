/*
 * Is the LE link to this address encrypted? BlueZ's D-Bus API does not say
 * (there is no Encrypted property), but the kernel answers HCIGETCONNINFO on
 * a raw HCI socket bound to the adapter, without any capability. The ABI
 * structures are declared here so that no libbluetooth headers are needed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "periph.h"

#ifndef AF_BLUETOOTH
#define AF_BLUETOOTH 31
#endif
#define BTPROTO_HCI 1
#define HCI_CHANNEL_RAW 0
#define HCI_LM_ENCRYPT 0x0004u
#define HCI_LE_LINK 0x80u
#define HCIGETCONNINFO _IOR('H', 213, int)
#define SOL_HCI 0
#define HCI_FILTER 2

/* A raw socket would be handed a copy of every HCI packet; pass none. */
struct hci_ufilter {
	uint32_t type_mask;
	uint32_t event_mask[2];
	uint16_t opcode;
};

struct hci_sockaddr {
	sa_family_t family;
	unsigned short dev;
	unsigned short channel;
};

struct hci_bdaddr {
	uint8_t b[6];
} __attribute__((packed));

struct hci_conn_info {
	uint16_t handle;
	struct hci_bdaddr bdaddr;
	uint8_t type;
	uint8_t out;
	uint16_t state;
	uint32_t link_mode;
};

struct hci_conn_info_req {
	struct hci_bdaddr bdaddr;
	uint8_t type;
	struct hci_conn_info info;
};

static int parse_address(const char *s, struct hci_bdaddr *a)
{
	unsigned v[6];
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		a->b[5 - i] = (uint8_t)v[i];
	return 0;
}

int hci_link_encrypted(int *fd, const char *adapter, const char *address)
{
	struct hci_conn_info_req req;
	char *end;
	unsigned long dev;

	if (strncmp(adapter, "hci", 3) != 0)
		return -EINVAL;
	dev = strtoul(adapter + 3, &end, 10);
	if (*end || end == adapter + 3 || dev > 0xFFFF)
		return -EINVAL;
	if (*fd < 0) {
		struct hci_sockaddr sa = { .family = AF_BLUETOOTH, .dev = (unsigned short)dev,
					   .channel = HCI_CHANNEL_RAW };
		struct hci_ufilter none = { 0 };
		int s = socket(AF_BLUETOOTH, SOCK_RAW | SOCK_CLOEXEC, BTPROTO_HCI);

		if (s < 0)
			return -errno;
		(void)setsockopt(s, SOL_HCI, HCI_FILTER, &none, sizeof(none));
		if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			int r = -errno;

			close(s);
			return r;
		}
		*fd = s;
	}
	memset(&req, 0, sizeof(req));
	if (parse_address(address, &req.bdaddr))
		return -EINVAL;
	req.type = HCI_LE_LINK;
	if (ioctl(*fd, HCIGETCONNINFO, &req) < 0)
		return -errno;
	return (req.info.link_mode & HCI_LM_ENCRYPT) ? 1 : 0;
}
