/*
 * copy_ceiling: the raw COPY ceiling of a PostgreSQL for Vitalgate's rows.
 * COPYs vitals rows of the shape the plugin writes (7 devices' worth of
 * columns, partitioned table, the same indexes) straight into `vitals`, in
 * transactions of --batch rows, for --seconds, and prints rows/s. No
 * broker, no staging table, no ON CONFLICT: what the database alone can
 * absorb, to put the plugin's ingest rate beside.
 *
 *   copy_ceiling --db CONNINFO [--seconds 10] [--batch 5000] [--devices 2000]
 *
 * Thread: single-threaded program. One JSON line on stdout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);

	if(!ok){
		fprintf(stderr, "copy_ceiling: %s: %s", sql, PQerrorMessage(c));
	}
	PQclear(r);
	return ok;
}

int main(int argc, char **argv)
{
	const char *db = NULL;
	double seconds = 10, t0, el;
	long batch = 5000, devices = 2000, rows = 0, b;
	int i;
	PGconn *c;
	char *buf;
	size_t cap, len;
	uint64_t seq = (uint64_t)time(NULL) * 1000000ull;
	int64_t ms = (int64_t)time(NULL) * 1000;

	for(i = 1; i + 1 < argc; i += 2){
		if(!strcmp(argv[i], "--db")) db = argv[i + 1];
		else if(!strcmp(argv[i], "--seconds")) seconds = strtod(argv[i + 1], NULL);
		else if(!strcmp(argv[i], "--batch")) batch = strtol(argv[i + 1], NULL, 10);
		else if(!strcmp(argv[i], "--devices")) devices = strtol(argv[i + 1], NULL, 10);
	}
	if(db == NULL || batch <= 0 || devices <= 0 || seconds <= 0){
		fprintf(stderr, "usage: copy_ceiling --db CONNINFO [--seconds S] [--batch N] [--devices N]\n");
		return 2;
	}
	c = PQconnectdb(db);
	if(PQstatus(c) != CONNECTION_OK){
		fprintf(stderr, "copy_ceiling: %s", PQerrorMessage(c));
		return 1;
	}
	cap = (size_t)batch * 160 + 64;
	buf = malloc(cap);
	if(buf == NULL){
		return 1;
	}
	t0 = now_s();
	while((el = now_s() - t0) < seconds){
		PGresult *r;
		char ts[64];
		time_t secs = (time_t)(ms / 1000);
		struct tm tm;

		gmtime_r(&secs, &tm);
		snprintf(ts, sizeof(ts), "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900, tm.tm_mon + 1,
				tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
		len = 0;
		for(b = 0; b < batch; b++){
			long d = (long)(seq % (uint64_t)devices);
			len += (size_t)snprintf(buf + len, cap - len,
					"ceil-%ld\t%" PRIu64 "\t%s\t%s\tC%ld\tB%ld\t%d\t%d\t%d\t%.3f\n",
					d, seq, ts, ts, d % 40, d, 60 + (int)(seq % 41), 94 + (int)(seq % 6), 12 + (int)(seq % 9),
					36.5 + (double)(seq % 8) / 10.0);
			seq++;
		}
		if(!exec_ok(c, "BEGIN")){
			return 1;
		}
		r = PQexec(c, "COPY vitals (device_id, seq, measured_at, received_at, ward, bed, hr, spo2, rr, temp) FROM STDIN");
		if(PQresultStatus(r) != PGRES_COPY_IN){
			fprintf(stderr, "copy_ceiling: COPY: %s", PQerrorMessage(c));
			return 1;
		}
		PQclear(r);
		PQputCopyData(c, buf, (int)len);
		PQputCopyEnd(c, NULL);
		r = PQgetResult(c);
		if(PQresultStatus(r) != PGRES_COMMAND_OK){
			fprintf(stderr, "copy_ceiling: COPY failed: %s", PQerrorMessage(c));
			return 1;
		}
		PQclear(r);
		while((r = PQgetResult(c)) != NULL){
			PQclear(r);
		}
		if(!exec_ok(c, "COMMIT")){
			return 1;
		}
		rows += batch;
		ms += 1;
	}
	el = now_s() - t0;
	fprintf(stderr, "copy_ceiling: %ld rows in %.1f s: %.0f rows/s (batches of %ld)\n", rows, el, rows / el, batch);
	printf("{\"bench\":\"copy_ceiling\",\"rows\":%ld,\"seconds\":%.3f,\"rows_per_s\":%.1f,\"batch\":%ld}\n", rows, el, rows / el, batch);
	free(buf);
	PQfinish(c);
	return 0;
}
