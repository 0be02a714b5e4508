/*
 * whsign: Standard Webhooks v1 signing.
 *
 * Secrets come from webhook_secret_file, one "whsec_<base64>" per line
 * (blank lines and "#" comments ignored). During key rotation the file holds
 * several; every attempt is signed with all of them, so the receiver may
 * accept either key. The signature is HMAC-SHA256 over the exact bytes
 * "{webhook-id}.{webhook-timestamp}.{body}", keyed with the base64-decoded
 * part after "whsec_", sent as "v1,<base64>" (space-separated when several).
 *
 * Thread: any; a vg_whsecrets is read-only once loaded.
 */
#ifndef VG_WHSIGN_H
#define VG_WHSIGN_H

#include <stddef.h>
#include <stdint.h>

#define VG_WH_MAX_SECRETS 8
#define VG_WH_MAX_KEY 128

struct vg_whsecrets {
	int n;
	size_t keylen[VG_WH_MAX_SECRETS];
	uint8_t key[VG_WH_MAX_SECRETS][VG_WH_MAX_KEY];
};

/* Parses the text of a secrets file. Returns 0, or -1 with a message
 * naming the offending line (never the secret) in err. */
int vg_whsecrets_parse(const char *text, struct vg_whsecrets *out, char *err, size_t errlen);
int vg_whsecrets_load(const char *path, struct vg_whsecrets *out, char *err, size_t errlen);
void vg_whsecrets_wipe(struct vg_whsecrets *s);

/* Writes the webhook-signature header value into out. Returns 0 or -1. */
int vg_whsign(const struct vg_whsecrets *s, const char *msg_id, int64_t ts, const char *body, size_t len,
		char *out, size_t outlen);

#endif
