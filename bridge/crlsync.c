/*
 * crlsync: PostgreSQL's CRLs -> plugin_opt_crl_file (see crlsync.h).
 * Thread: the identity sync worker. Memory: query results and file
 * contents are freed before returning; a posted completion is the
 * consumer's.
 */
#include "crlsync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


#include "vg_pg.h"
#include "vg_completion.h"
#include "vg_log.h"
#include "vg_sbuf.h"
#include "vg_util.h"

#define WARN_BEFORE_S (7 * 86400)

/* The file's current contents (malloc'd, *len), or NULL. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	*len = 0;
	if(f == NULL){
		return NULL;
	}
	if(fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < 64L * 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0){
		buf = malloc((size_t)n + 1);
		if(buf && fread(buf, 1, (size_t)n, f) == (size_t)n){
			buf[n] = '\0';
			*len = (size_t)n;
		}else{
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static bool write_atomic(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	char tmp[4096];
	int fd;

	if(snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)){
		snprintf(err, errlen, "path too long");
		return false;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if(fd < 0){
		snprintf(err, errlen, "cannot write %.300s: %s", tmp, strerror(errno));
		return false;
	}
	if(write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) != 0 || fsync(fd) != 0){
		snprintf(err, errlen, "cannot write %.300s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return false;
	}
	close(fd);
	if(rename(tmp, path) != 0){
		snprintf(err, errlen, "cannot rename %.300s to %.300s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return false;
	}
	return true;
}

bool vg_crlsync_run(struct vg_crlsync *cs, PGconn *c, struct vg_queue *completions)
{
	PGresult *r = PQexec(c, "SELECT pem, issuer, extract(epoch FROM next_update)::bigint FROM certificate_crls ORDER BY issuer");
	struct vg_sbuf text;
	struct vg_crl_set *set = NULL;
	struct vg_c_crl *done;
	char *cur = NULL, err[1024], line[300];
	size_t curlen;
	int64_t now = (int64_t)time(NULL), next;
	int i, n;

	if(PQresultStatus(r) != PGRES_TUPLES_OK){
		vg_pg_errline(PQresultErrorMessage(r), line, sizeof(line));
		vg_post_log(completions, VG_LOG_ERR, "Vitalgate: cannot read the certificate revocation lists: %s", line);
		PQclear(r);
		return false;
	}
	n = PQntuples(r);
	vg_sbuf_init(&text);
	for(i = 0; i < n; i++){
		if(!vg_parse_i64(PQgetvalue(r, i, 2), 0, INT64_MAX, &next) || next <= now){
			/* Never written: it would fail every certificate handshake. */
			vg_post_log(completions, VG_LOG_ERR, "Vitalgate: the stored CRL of %s has expired; %s keeps its current "
					"CRLs until `vitalgate-admin cert crl` signs a new one", PQgetvalue(r, i, 1), cs->path);
			goto out;
		}
		if(next - now < WARN_BEFORE_S && vg_mono_ms() - cs->warned_ms > 3600000){
			cs->warned_ms = vg_mono_ms();
			vg_post_log(completions, VG_LOG_WARNING, "Vitalgate: the CRL of %s expires in %lld hour(s): sign a new one "
					"with `vitalgate-admin cert crl` (certificate logins fail once it has expired)", PQgetvalue(r, i, 1),
					(long long)((next - now) / 3600));
		}
		vg_sbuf_put(&text, PQgetvalue(r, i, 0), strlen(PQgetvalue(r, i, 0)));
		if(text.len && text.p[text.len - 1] != '\n'){
			vg_sbuf_put(&text, "\n", 1);
		}
	}
	if(n == 0 || !vg_sbuf_ok(&text)){
		goto out; /* nothing stored yet: the file stays as the operator made it */
	}
	cur = read_file(cs->path, &curlen);
	if(cur && curlen == text.len && memcmp(cur, text.p, curlen) == 0){
		goto out; /* already current */
	}
	set = vg_crl_parse(text.p, text.len, err, sizeof(err));
	if(set == NULL || sk_X509_CRL_num(set->crls) != n){
		vg_post_log(completions, VG_LOG_ERR, "Vitalgate: the stored certificate revocation lists do not parse (%s); "
				"%s keeps its current CRLs", set ? "a row holds more than one CRL" : err, cs->path);
		goto out;
	}
	if(!write_atomic(cs->path, text.p, text.len, err, sizeof(err))){
		vg_post_log(completions, VG_LOG_ERR, "Vitalgate: cannot update the certificate revocation list: %s", err);
		goto out;
	}
	done = calloc(1, sizeof(*done));
	if(done == NULL){
		goto out; /* the file is current; TICK learns at the next change */
	}
	done->base.type = VG_C_CRL;
	done->set = set;
	set = NULL;
	vg_queue_push_force(completions, &done->base);
out:
	vg_crl_free(set);
	free(cur);
	vg_sbuf_free(&text);
	PQclear(r);
	return true;
}
