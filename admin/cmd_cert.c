/*
 * cmd_cert: client certificate revocation (docs/security.md, docs/admin.md):
 *
 *   cert revoke --cert <file>                     by the certificate itself
 *   cert revoke --serial <hex> --ca-cert <file>   by serial, under that CA
 *   cert crl --ca-cert <file> --ca-key <file> [--days N] [--out <file>]
 *   cert list
 *
 * `revoke` records the certificate's issuer and serial; `crl` signs, with
 * the CA's key (read here, on the operator's side: brokers never hold it),
 * a v2 CRL of every serial revoked under that CA, valid for --days (default
 * 30), with an increasing CRL number, and stores it in certificate_crls.
 * Brokers with plugin_opt_crl_file are told by NOTIFY (vitalgate_crl), write
 * it to their listeners' crlfile and reload them. --out also writes it to a
 * file: the first CRL a broker needs before it starts.
 *
 * Every change is one transaction with its audit_log row.
 *
 * Thread: single-threaded program. Memory: OpenSSL objects and results are
 * released before return.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "admin.h"
#include "vg_util.h"

#define CRL_DAYS_DEFAULT 30

bool vg_admin_cert_is_command(const char *cmd)
{
	return !strcmp(cmd, "cert");
}

int vg_admin_cert_validate(const struct vg_admin_args *a)
{
	const char *sub = a->npos > 1 ? a->pos[1] : NULL;
	int64_t days;

	if(sub == NULL || a->npos != 2){
		return vg_admin_fail_usage("cert needs revoke, crl or list");
	}
	if(a->ward || a->bed || a->wards || a->identity || a->limit || a->low || a->high || a->status){
		return vg_admin_fail_usage("cert %s takes only --cert, --serial, --ca-cert, --ca-key, --days, --out", sub);
	}
	if(!strcmp(sub, "revoke")){
		if((a->cert == NULL) == (a->serial == NULL)){
			return vg_admin_fail_usage("cert revoke needs --cert <file> or --serial <hex> --ca-cert <file>");
		}
		if(a->serial && a->ca_cert == NULL){
			return vg_admin_fail_usage("cert revoke --serial needs --ca-cert (the CA that issued it)");
		}
		if(a->cert && a->ca_cert){
			return vg_admin_fail_usage("cert revoke --cert takes the issuer from the certificate: no --ca-cert");
		}
		if(a->ca_key || a->days || a->out){
			return vg_admin_fail_usage("--ca-key, --days and --out are for cert crl");
		}
		return 0;
	}
	if(!strcmp(sub, "crl")){
		if(a->ca_cert == NULL || a->ca_key == NULL){
			return vg_admin_fail_usage("cert crl needs --ca-cert <file> and --ca-key <file>");
		}
		if(a->cert || a->serial){
			return vg_admin_fail_usage("--cert and --serial are for cert revoke");
		}
		if(a->days && !vg_parse_i64(a->days, 1, 3650, &days)){
			return vg_admin_fail_usage("--days must be a number between 1 and 3650");
		}
		return 0;
	}
	if(!strcmp(sub, "list")){
		if(a->cert || a->serial || a->ca_cert || a->ca_key || a->days || a->out){
			return vg_admin_fail_usage("cert list takes no options");
		}
		return 0;
	}
	return vg_admin_fail_usage("unknown cert command \"%s\"", sub);
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if(f == NULL){
		vg_admin_fail("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if(x == NULL){
		vg_admin_fail("%s holds no PEM certificate", path);
	}
	return x;
}

/* RFC 2253 text of a name (malloc'd), as the issuer is stored. */
static char *name_text(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if(b && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0){
		n = BIO_get_mem_data(b, &data);
		out = malloc((size_t)n + 1);
		if(out){
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

/* Upper-case hex without leading zeros (malloc'd), or NULL. */
static char *serial_hex(const ASN1_INTEGER *ai)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
	char *h = NULL, *out = NULL;

	if(bn && !BN_is_negative(bn)){
		h = BN_bn2hex(bn);
	}
	if(h){
		out = strdup(h);
		OPENSSL_free(h);
	}
	BN_free(bn);
	return out;
}

static char *serial_from_arg(const char *s)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai;
	char *out = NULL;
	size_t n = strlen(s);

	if(n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')){
		s += 2;
		n -= 2;
	}
	if(n == 0 || n > 128 || strspn(s, "0123456789abcdefABCDEF") != n || BN_hex2bn(&bn, s) != (int)n){
		BN_free(bn);
		return NULL;
	}
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	if(ai){
		out = serial_hex(ai);
	}
	ASN1_INTEGER_free(ai);
	return out;
}

/* The CN of a name, or "" (into cn). */
static void name_cn(const X509_NAME *name, char *cn, size_t len)
{
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *str = i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)) : NULL;
	int n = str ? ASN1_STRING_length(str) : 0;

	cn[0] = '\0';
	if(n > 0 && (size_t)n < len){
		memcpy(cn, ASN1_STRING_get0_data(str), (size_t)n);
		cn[n] = '\0';
		if(strlen(cn) != (size_t)n){
			cn[0] = '\0';
		}
	}
}

static int cmd_revoke(PGconn *c, const struct vg_admin_args *a)
{
	X509 *x = read_cert(a->cert ? a->cert : a->ca_cert);
	char *issuer = NULL, *serial = NULL;
	char cn[VG_ID_MAX * 4 + 1] = "", detail[1024];
	const char *p[3];
	PGresult *r;
	int rc = 1;
	bool fresh;

	if(x == NULL){
		return 1;
	}
	if(a->cert){
		issuer = name_text(X509_get_issuer_name(x));
		serial = serial_hex(X509_get0_serialNumber(x));
		name_cn(X509_get_subject_name(x), cn, sizeof(cn));
	}else{
		issuer = name_text(X509_get_subject_name(x));
		serial = serial_from_arg(a->serial);
		if(serial == NULL){
			rc = vg_admin_fail_usage("--serial \"%s\" is not a hexadecimal serial number", a->serial);
			goto out;
		}
	}
	if(issuer == NULL || serial == NULL){
		vg_admin_fail("cannot read the certificate's issuer and serial");
		goto out;
	}
	p[0] = issuer;
	p[1] = serial;
	p[2] = cn[0] ? cn : NULL;
	if(!vg_admin_exec(c, "BEGIN")){
		goto out;
	}
	r = vg_admin_run(c, "INSERT INTO revoked_certificates (issuer, serial, subject_cn) VALUES ($1, $2, $3) "
			"ON CONFLICT DO NOTHING RETURNING 1", 3, p, PGRES_TUPLES_OK);
	if(r == NULL){
		vg_admin_rollback(c);
		goto out;
	}
	fresh = PQntuples(r) == 1;
	PQclear(r);
	snprintf(detail, sizeof(detail), "serial %s of %s%s%s", serial, issuer, cn[0] ? ", CN " : "", cn);
	if(fresh && !vg_admin_audit(c, "cert.revoke", vg_id_valid(cn) ? cn : NULL, detail)){
		vg_admin_rollback(c);
		goto out;
	}
	if(!vg_admin_exec(c, "COMMIT")){
		goto out;
	}
	vg_admin_note("%s certificate %s; `vitalgate-admin cert crl` publishes it to the brokers", fresh ? "revoked" : "already revoked:", detail);
	rc = 0;
out:
	free(issuer);
	free(serial);
	X509_free(x);
	return rc;
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if(f == NULL){
		vg_admin_fail("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if(k == NULL){
		vg_admin_fail("%s holds no unencrypted PEM private key", path);
	}
	return k;
}

/* Writes text to path through a temporary file and a rename, mode 0644 (a
 * broker's user must read it). */
static int write_atomic(const char *path, const char *text, size_t len)
{
	char tmp[4096];
	int fd;
	ssize_t w;

	if(snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)){
		return vg_admin_fail("--out path too long");
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if(fd < 0){
		return vg_admin_fail("cannot write %s: %s", tmp, strerror(errno));
	}
	w = write(fd, text, len);
	if(w != (ssize_t)len || fchmod(fd, 0644) != 0 || fsync(fd) != 0){
		int e = errno;
		close(fd);
		unlink(tmp);
		return vg_admin_fail("cannot write %s: %s", tmp, strerror(e));
	}
	close(fd);
	if(rename(tmp, path) != 0){
		int e = errno;
		unlink(tmp);
		return vg_admin_fail("cannot rename %s to %s: %s", tmp, path, strerror(e));
	}
	return 0;
}

/* Builds and signs the CRL: the revoked serials of rows (serial, revoked
 * at in Unix seconds), number num, valid from now for days. */
static X509_CRL *build_crl(X509 *ca, EVP_PKEY *key, PGresult *rows, int64_t num, time_t now, int64_t days)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t0 = ASN1_TIME_set(NULL, now);
	ASN1_TIME *t1 = X509_time_adj_ex(NULL, (int)days, 0, &now);
	ASN1_INTEGER *n = ASN1_INTEGER_new();
	bool ok = crl && t0 && t1 && n;
	int i;

	ok = ok && X509_CRL_set_version(crl, X509_CRL_VERSION_2) && X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca))
		&& X509_CRL_set1_lastUpdate(crl, t0) && X509_CRL_set1_nextUpdate(crl, t1)
		&& ASN1_INTEGER_set_int64(n, num) && X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, 0);
	for(i = 0; ok && i < PQntuples(rows); i++){
		X509_REVOKED *rv = X509_REVOKED_new();
		BIGNUM *bn = NULL;
		ASN1_INTEGER *ai = NULL;
		ASN1_TIME *at = NULL;
		int64_t secs = 0;
		ok = rv && BN_hex2bn(&bn, PQgetvalue(rows, i, 0)) > 0 && (ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL
			&& vg_parse_i64(PQgetvalue(rows, i, 1), 0, INT64_MAX, &secs) && (at = ASN1_TIME_set(NULL, (time_t)secs)) != NULL
			&& X509_REVOKED_set_serialNumber(rv, ai) && X509_REVOKED_set_revocationDate(rv, at)
			&& X509_CRL_add0_revoked(crl, rv);
		if(!ok){
			X509_REVOKED_free(rv);
		}
		BN_free(bn);
		ASN1_INTEGER_free(ai);
		ASN1_TIME_free(at);
	}
	/* Ed25519/Ed448 keys sign without a separate digest. */
	ok = ok && X509_CRL_sort(crl)
		&& X509_CRL_sign(crl, key, EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 || EVP_PKEY_get_id(key) == EVP_PKEY_ED448
				? NULL : EVP_sha256()) > 0
		&& X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1;
	ASN1_TIME_free(t0);
	ASN1_TIME_free(t1);
	ASN1_INTEGER_free(n);
	if(!ok){
		X509_CRL_free(crl);
		return NULL;
	}
	return crl;
}

static int cmd_crl(PGconn *c, const struct vg_admin_args *a)
{
	X509 *ca = read_cert(a->ca_cert);
	EVP_PKEY *key = ca ? read_key(a->ca_key) : NULL;
	X509_CRL *crl = NULL;
	char *issuer = NULL, *pem = NULL;
	char num_s[24], rev_s[24], t0_s[24], t1_s[24], detail[1024];
	const char *p[6];
	PGresult *r = NULL, *rows = NULL;
	int64_t days = CRL_DAYS_DEFAULT, num = 1;
	time_t now = time(NULL);
	BIO *b = NULL;
	int rc = 1;

	if(ca == NULL || key == NULL){
		goto out;
	}
	if(X509_check_private_key(ca, key) != 1){
		vg_admin_fail("%s is not the key of %s", a->ca_key, a->ca_cert);
		goto out;
	}
	if(a->days){
		vg_parse_i64(a->days, 1, 3650, &days);
	}
	issuer = name_text(X509_get_subject_name(ca));
	if(issuer == NULL || !vg_admin_exec(c, "BEGIN")){
		goto out;
	}
	p[0] = issuer;
	r = vg_admin_run(c, "SELECT crl_number FROM certificate_crls WHERE issuer = $1 FOR UPDATE", 1, p, PGRES_TUPLES_OK);
	if(r == NULL){
		vg_admin_rollback(c);
		goto out;
	}
	if(PQntuples(r) == 1 && vg_parse_i64(PQgetvalue(r, 0, 0), 1, INT64_MAX - 1, &num)){
		num++;
	}
	PQclear(r);
	r = NULL;
	rows = vg_admin_run(c, "SELECT serial, extract(epoch FROM revoked_at)::bigint FROM revoked_certificates WHERE issuer = $1 "
			"ORDER BY serial", 1, p, PGRES_TUPLES_OK);
	if(rows == NULL){
		vg_admin_rollback(c);
		goto out;
	}
	crl = build_crl(ca, key, rows, num, now, days);
	b = BIO_new(BIO_s_mem());
	if(crl == NULL || b == NULL || PEM_write_bio_X509_CRL(b, crl) != 1){
		vg_admin_rollback(c);
		vg_admin_fail("cannot sign the CRL with %s", a->ca_key);
		goto out;
	}
	{
		char *data;
		long n = BIO_get_mem_data(b, &data);
		pem = malloc((size_t)n + 1);
		if(pem == NULL){
			vg_admin_rollback(c);
			vg_admin_fail("out of memory");
			goto out;
		}
		memcpy(pem, data, (size_t)n);
		pem[n] = '\0';
	}
	snprintf(num_s, sizeof(num_s), "%lld", (long long)num);
	snprintf(rev_s, sizeof(rev_s), "%d", PQntuples(rows));
	snprintf(t0_s, sizeof(t0_s), "%lld", (long long)now);
	snprintf(t1_s, sizeof(t1_s), "%lld", (long long)now + days * 86400);
	p[1] = num_s;
	p[2] = pem;
	p[3] = rev_s;
	p[4] = t0_s;
	p[5] = t1_s;
	r = vg_admin_run(c, "INSERT INTO certificate_crls (issuer, crl_number, pem, revoked, this_update, next_update) "
			"VALUES ($1, $2::bigint, $3, $4::integer, to_timestamp($5::bigint), to_timestamp($6::bigint)) "
			"ON CONFLICT (issuer) DO UPDATE SET crl_number = EXCLUDED.crl_number, pem = EXCLUDED.pem, "
			"revoked = EXCLUDED.revoked, this_update = EXCLUDED.this_update, next_update = EXCLUDED.next_update, "
			"signed_at = now()", 6, p, PGRES_COMMAND_OK);
	if(r == NULL){
		vg_admin_rollback(c);
		goto out;
	}
	snprintf(detail, sizeof(detail), "CRL %s of %s: %s revoked, valid %lld days", num_s, issuer, rev_s, (long long)days);
	if(!vg_admin_audit(c, "cert.crl", NULL, detail) || !vg_admin_exec(c, "COMMIT")){
		vg_admin_rollback(c);
		goto out;
	}
	if(a->out && write_atomic(a->out, pem, strlen(pem)) != 0){
		goto out;
	}
	vg_admin_note("signed %s; brokers with plugin_opt_crl_file apply it within seconds%s%s", detail, a->out ? "; written to " : "",
			a->out ? a->out : "");
	rc = 0;
out:
	PQclear(r);
	PQclear(rows);
	BIO_free(b);
	X509_CRL_free(crl);
	EVP_PKEY_free(key);
	X509_free(ca);
	free(issuer);
	free(pem);
	return rc;
}

static int cmd_list(PGconn *c)
{
	PGresult *r = vg_admin_run(c, "SELECT serial, COALESCE(subject_cn, '-'), "
			"to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), issuer, "
			"CASE WHEN EXISTS (SELECT 1 FROM certificate_crls l WHERE l.issuer = v.issuer AND l.signed_at >= v.revoked_at) "
			"THEN 'yes' ELSE 'not yet' END "
			"FROM revoked_certificates v ORDER BY revoked_at, serial", 0, NULL, PGRES_TUPLES_OK);
	int i;

	if(r == NULL){
		return 1;
	}
	printf("%-40s %-24s %-20s %-8s %s\n", "SERIAL", "CN", "REVOKED", "IN CRL", "ISSUER");
	for(i = 0; i < PQntuples(r); i++){
		printf("%-40s %-24s %-20s %-8s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
				PQgetvalue(r, i, 4), PQgetvalue(r, i, 3));
	}
	PQclear(r);
	r = vg_admin_run(c, "SELECT issuer, crl_number, revoked, to_char(next_update AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
			"FROM certificate_crls ORDER BY issuer", 0, NULL, PGRES_TUPLES_OK);
	if(r == NULL){
		return 1;
	}
	for(i = 0; i < PQntuples(r); i++){
		printf("CRL %s of %s: %s revoked, next update %s\n", PQgetvalue(r, i, 1), PQgetvalue(r, i, 0),
				PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
	}
	PQclear(r);
	return 0;
}

int vg_admin_cert_run(PGconn *c, const struct vg_admin_args *a)
{
	if(!strcmp(a->pos[1], "revoke")){
		return cmd_revoke(c, a);
	}
	if(!strcmp(a->pos[1], "crl")){
		return cmd_crl(c, a);
	}
	return cmd_list(c);
}
