/*
 * vg_log: the log levels of lines that code off the broker thread hands to
 * it (worker completions, the journal's log hook). The broker logs them
 * with mosquitto_log_printf on TICK, so the values are Mosquitto's
 * MOSQ_LOG_* values; plugin/plugin.c asserts that at compile time. Worker
 * and shared code include this, never the broker's headers.
 *
 * Thread: any (constants only).
 */
#ifndef VG_LOG_H
#define VG_LOG_H

#define VG_LOG_INFO     (1 << 0)
#define VG_LOG_NOTICE   (1 << 1)
#define VG_LOG_WARNING  (1 << 2)
#define VG_LOG_ERR      (1 << 3)
#define VG_LOG_DEBUG    (1 << 4)

#endif
