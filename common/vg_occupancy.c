/*
 * vg_occupancy: the occupancy message's parser (see vg_occupancy.h).
 * Thread: any. Memory: none owned.
 */
#include "vg_occupancy.h"

#include <string.h>

bool vg_occupancy_id_valid(const char *s, size_t n)
{
	size_t i;

	if(n == 0 || n > VG_OCC_ID_MAX){
		return false;
	}
	for(i = 0; i < n; i++){
		unsigned char c = (unsigned char)s[i];
		if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_'
				|| c == '-')){
			return false;
		}
	}
	return true;
}

static bool digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for(i = 0; i < n; i++){
		if(s[i] < '0' || s[i] > '9'){
			return false;
		}
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if(m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)){
		return 29;
	}
	return days[m - 1];
}

bool vg_rfc3339_parse(const char *s, size_t n, int64_t *ms)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, scale = 100;
	size_t i;
	int64_t off = 0;

	/* YYYY-MM-DDTHH:MM:SS */
	if(n < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d)
			|| (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi)
			|| s[16] != ':' || !digits(s + 17, 2, &sec)){
		return false;
	}
	if(mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 60){
		return false;
	}
	if(sec == 60){
		sec = 59;   /* a leap second: the last millisecond of the minute's 59th */
		frac = 999;
		scale = 0;
	}
	i = 19;
	if(i < n && s[i] == '.'){
		size_t start = ++i;
		while(i < n && s[i] >= '0' && s[i] <= '9'){
			if(scale > 0){
				frac += (s[i] - '0') * scale;
				scale /= 10;
			}
			i++;
		}
		if(i == start){
			return false;
		}
	}
	if(i < n && (s[i] == 'Z' || s[i] == 'z')){
		i++;
	}else if(i + 6 == n && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2, &oh) && s[i + 3] == ':'
			&& digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59){
		off = (int64_t)(oh * 60 + om) * 60000;
		if(s[i] == '+'){
			off = -off;
		}
		i += 6;
	}else{
		return false;
	}
	if(i != n){
		return false;
	}
	*ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000) + frac + off;
	return true;
}

/* ---- a strict reader for one flat JSON object of strings ---------------- */

struct rd {
	const char *p;
	size_t n, i;
};

static void ws(struct rd *r)
{
	while(r->i < r->n && (r->p[r->i] == ' ' || r->p[r->i] == '\t' || r->p[r->i] == '\n' || r->p[r->i] == '\r')){
		r->i++;
	}
}

static int hexval(char c)
{
	if(c >= '0' && c <= '9'){
		return c - '0';
	}
	if(c >= 'a' && c <= 'f'){
		return c - 'a' + 10;
	}
	if(c >= 'A' && c <= 'F'){
		return c - 'A' + 10;
	}
	return -1;
}

/* A JSON string of printable ASCII (escapes only for those) into out
 * (cap bytes with the NUL); false when it is not one or does not fit. */
static bool str(struct rd *r, char *out, size_t cap, size_t *len)
{
	size_t k = 0;

	if(r->i >= r->n || r->p[r->i] != '"'){
		return false;
	}
	r->i++;
	while(r->i < r->n){
		unsigned char c = (unsigned char)r->p[r->i++];
		if(c == '"'){
			out[k] = '\0';
			*len = k;
			return true;
		}
		if(c == '\\'){
			if(r->i >= r->n){
				return false;
			}
			c = (unsigned char)r->p[r->i++];
			if(c == 'u'){
				int a, b, e, f;
				if(r->i + 4 > r->n || (a = hexval(r->p[r->i])) < 0 || (b = hexval(r->p[r->i + 1])) < 0
						|| (e = hexval(r->p[r->i + 2])) < 0 || (f = hexval(r->p[r->i + 3])) < 0 || a || b){
					return false;
				}
				c = (unsigned char)(e * 16 + f);
				r->i += 4;
			}else if(c != '"' && c != '\\' && c != '/'){
				return false;
			}
		}
		if(c < 0x20 || c > 0x7e || k + 1 >= cap){
			return false;
		}
		out[k++] = (char)c;
	}
	return false;
}

const char *vg_occupancy_parse(const void *payload, size_t len, int64_t now_ms, struct vg_occupancy *out)
{
	struct rd r = { payload, len, 0 };
	char key[16], since[64];
	size_t n, since_n = 0, pn = 0, en = 0, ln = 0;
	bool have_p = false, have_e = false, have_s = false, have_l = false, first = true;

	memset(out, 0, sizeof(*out));
	if(len == 0){
		out->vacant = true;
		out->since_ms = now_ms;
		return NULL;
	}
	ws(&r);
	if(r.i >= r.n || r.p[r.i] != '{'){
		return "not a JSON object";
	}
	r.i++;
	for(;;){
		bool *have;
		ws(&r);
		if(first && r.i < r.n && r.p[r.i] == '}'){
			r.i++;
			break;
		}
		if(!str(&r, key, sizeof(key), &n)){
			return "malformed JSON (members are \"patient\", \"encounter\", \"since\", \"label\")";
		}
		ws(&r);
		if(r.i >= r.n || r.p[r.i] != ':'){
			return "malformed JSON";
		}
		r.i++;
		ws(&r);
		if(!strcmp(key, "patient")){
			have = &have_p;
			if(!have_p && !str(&r, out->patient, sizeof(out->patient), &pn)){
				return "patient: not an id";
			}
		}else if(!strcmp(key, "encounter")){
			have = &have_e;
			if(!have_e && !str(&r, out->encounter, sizeof(out->encounter), &en)){
				return "encounter: not an id";
			}
		}else if(!strcmp(key, "since")){
			have = &have_s;
			if(!have_s && !str(&r, since, sizeof(since), &since_n)){
				return "since: not an RFC 3339 date-time";
			}
		}else if(!strcmp(key, "label")){
			have = &have_l;
			if(!have_l && !str(&r, out->label, sizeof(out->label), &ln)){
				return "label: 1 to 32 printable ASCII characters";
			}
		}else{
			return "unknown member (members are \"patient\", \"encounter\", \"since\", \"label\")";
		}
		if(*have){
			return "a member given twice";
		}
		*have = true;
		first = false;
		ws(&r);
		if(r.i < r.n && r.p[r.i] == ','){
			r.i++;
			continue;
		}
		if(r.i < r.n && r.p[r.i] == '}'){
			r.i++;
			break;
		}
		return "malformed JSON";
	}
	ws(&r);
	if(r.i != r.n){
		return "malformed JSON (bytes after the object)";
	}
	if(!have_p || !have_e || !have_s){
		return "patient, encounter and since are required (an empty payload says the bed is vacant)";
	}
	if(!vg_occupancy_id_valid(out->patient, pn)){
		return "patient: not an id (1 to 64 of A-Z a-z 0-9 . _ -)";
	}
	if(!vg_occupancy_id_valid(out->encounter, en)){
		return "encounter: not an id (1 to 64 of A-Z a-z 0-9 . _ -)";
	}
	if(have_l && (ln == 0 || strpbrk(out->label, "\"\\") != NULL)){
		return "label: 1 to 32 printable ASCII characters, no '\"' or '\\'";
	}
	if(!vg_rfc3339_parse(since, since_n, &out->since_ms)){
		return "since: not an RFC 3339 date-time";
	}
	if(out->since_ms > now_ms + VG_OCC_MAX_SKEW_MS){
		return "since: in the future";
	}
	if(out->since_ms < now_ms - VG_OCC_MAX_AGE_MS){
		return "since: more than a day ago (a correction further back is not re-linked)";
	}
	return NULL;
}
