/* The transport registry. */
#include <stddef.h>
#include <string.h>

#include "roller/usb.h"
#include "backends.h"

static const struct transport_ops *const backends[] = {
	&transport_sim_ops,
	&transport_replay_ops,
	&usb_transport_ops,
#ifdef ROLLER_HAVE_BLUEZ
	&transport_bluez_ops,
#endif
};

const struct transport_ops *transport_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}
