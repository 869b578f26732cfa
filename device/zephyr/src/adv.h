/*
 * Advertising of the roller. One implementation per advertising kind,
 * selected in Kconfig (ROLLER_ADV_*): adv_legacy.c for the nRF boards, whose
 * users may have Bluetooth 4.x adapters that see legacy advertising only;
 * adv_ext.c for native_sim, whose emulated controllers (BlueZ btdev) report
 * and connect extended advertisers only.
 * Whatever the kind, the advertising data carries the flags, the Roller
 * service UUID (128-bit) and a short name, in at most 31 bytes.
 */
#ifndef ROLLER_ZEPHYR_ADV_H
#define ROLLER_ZEPHYR_ADV_H

/* Starts connectable advertising. Returns 0 (also when already
 * advertising) or the negative error of the host stack. */
int adv_start(void);

/* Stops it. Returns 0 (also when not advertising) or a negative error. */
int adv_stop(void);

#endif
