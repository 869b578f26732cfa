/* Private to host/transport: the backends transport_find() knows. */
#ifndef ROLLER_TRANSPORT_BACKENDS_H
#define ROLLER_TRANSPORT_BACKENDS_H

#include "roller/transport.h"

extern const struct transport_ops transport_sim_ops;
extern const struct transport_ops transport_replay_ops;
#ifdef ROLLER_HAVE_BLUEZ
extern const struct transport_ops transport_bluez_ops;
#endif

#endif
