/*
 * The sync engine (roller/sync.h) against the real device core with
 * recorded sessions in its flash, through a fake transport that can drop
 * the link, corrupt or swallow a chunk, or have the sync killed, at any
 * chunk. What the user would notice: every session the roller holds ends
 * up on disk exactly once, byte for byte as the roller logged it, whatever
 * broke and wherever.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "roller/protocol.h"
#include "roller/sync.h"

#include "fake_roller.h"
#include "flash_record.h"
#include "fake_transport.h"
#include "sync_check.h"

#define DEVICE_ID 0xC0FFEE01u

struct fixture {
	struct fake_roller *roller;
	struct fake_roller_record *truth;
	size_t truth_n;
	uint32_t log_first, log_end;
	char sessions[4096], state[4096];
	struct sync_options opt;
};

static void new_dirs(struct fixture *f)
{
	check_tempdir(f->sessions, sizeof(f->sessions), "sync-sessions");
	check_tempdir(f->state, sizeof(f->state), "sync-state");
}

static void drop_dirs(struct fixture *f)
{
	check_rmtree(f->sessions);
	check_rmtree(f->state);
}

static void read_truth(struct fixture *f)
{
	int n = fake_roller_read_log(f->roller, f->truth, CHECK_MAX_RECORDS);

	assert_true(n > 0);
	f->truth_n = (size_t)n;
	fake_roller_log_info(f->roller, &f->log_first, &f->log_end);
	assert_int_equal(f->truth[0].number, f->log_first);
	assert_int_equal(f->truth[f->truth_n - 1].number + 1, f->log_end);
}

/* Three sessions: one the roller started by itself, two a host started
 * (with regions) and then left. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->roller = malloc(sizeof(*f->roller));
	f->truth = calloc(CHECK_MAX_RECORDS, sizeof(*f->truth));
	assert_non_null(f->roller);
	assert_non_null(f->truth);
	assert_int_equal(fake_roller_init(f->roller, DEVICE_ID), 0);
	assert_int_equal(fake_roller_record(f->roller, 0, 8, 1), 0);
	assert_int_equal(fake_roller_record(f->roller, PROTO_REGION_CALVES, 6, 2), 0);
	assert_int_equal(fake_roller_record(f->roller, PROTO_REGION_GLUTES, 5, 3), 0);
	read_truth(f);
	fake_transport_env.roller = f->roller;
	fake_transport_reset();
	new_dirs(f);
	f->opt = (struct sync_options){
		.transport = &fake_transport_ops,
		.sessions_dir = f->sessions,
		.state_dir = f->state,
		.chunk_timeout_ms = 100,
		.control_timeout_ms = 1000,
		.connect_timeout_ms = 2000,
		.reconnect_timeout_ms = 2000,
	};
	f->opt.header.body_weight_dkg = 750;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	drop_dirs(f);
	free(f->truth);
	free(f->roller);
	free(f);
	return 0;
}

static void assert_all_stored(struct fixture *f, uint32_t from, uint32_t to)
{
	struct check_stored st;

	assert_int_equal(check_read_stored(f->sessions, &st), 0);
	assert_int_equal(st.part_files, 0);
	check_same_records(&st, f->truth, f->truth_n, from, to);
	for (size_t i = 0; i < st.files; i++)
		assert_true(st.info_first[i]);
	check_stored_free(&st);
}

static uint32_t state_of(struct fixture *f)
{
	uint32_t synced_to = 0;

	assert_int_equal(sync_state_load(f->state, DEVICE_ID, &synced_to), 0);
	return synced_to;
}

/* The whole log in one go: three files, regions kept, state at the end. */
static void test_sync_downloads_every_session(void **state)
{
	struct fixture *f = *state;
	struct sync_result res;
	struct check_stored st;

	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_int_equal(res.device_id, DEVICE_ID);
	assert_int_equal(res.sessions_written, 3);
	assert_int_equal(res.sessions_incomplete, 0);
	assert_int_equal(res.records, f->truth_n);
	assert_int_equal(res.resumes, 0);
	assert_int_equal(res.synced_to, f->log_end);
	assert_int_equal(state_of(f), f->log_end);
	assert_int_equal(check_read_stored(f->sessions, &st), 0);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.regions[0], PROTO_REGION_NONE);
	assert_int_equal(st.regions[1], PROTO_REGION_CALVES);
	assert_int_equal(st.regions[2], PROTO_REGION_GLUTES);
	assert_string_equal(st.transport[0], "fake");
	check_same_records(&st, f->truth, f->truth_n, f->log_first, f->log_end);
	check_stored_free(&st);
}

/* A power cut while the roller recorded on its own: the record being
 * written is torn, its number spent (the numbering has a hole there), and
 * that session has no SESSION END. After the boot it records another one.
 * Every whole record is synced: the sessions before, the cut one up to its
 * last whole record (saved as incomplete), the one after. */
static void test_sync_across_a_power_cut(void **state)
{
	struct fixture *f = *state;
	struct sync_result res;
	struct check_stored st;
	uint32_t end_before;
	bool hole = false;

	end_before = f->log_end;
	assert_int_equal(fake_roller_power_cut(f->roller, 5, 10, 4), 0);
	assert_int_equal(fake_roller_record(f->roller, PROTO_REGION_HAMSTRINGS, 5, 5), 0);
	read_truth(f);
	for (size_t i = 1; i < f->truth_n; i++)
		hole |= f->truth[i].number != f->truth[i - 1].number + 1;
	assert_true(hole); /* the torn record's number is not in the log */
	assert_true(f->truth_n < f->log_end - f->log_first);
	assert_true(f->log_end > end_before);

	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_int_equal(res.sessions_written, 5);
	assert_int_equal(res.sessions_incomplete, 1);
	assert_int_equal(res.records, f->truth_n);
	assert_int_equal(res.records_missing, f->log_end - f->log_first - f->truth_n);
	assert_int_equal(res.synced_to, f->log_end);
	assert_int_equal(check_read_stored(f->sessions, &st), 0);
	assert_int_equal(st.files, 5);
	assert_int_equal(st.regions[4], PROTO_REGION_HAMSTRINGS);
	for (size_t i = 0; i < st.files; i++)
		assert_int_equal(st.incomplete[i], i == 3);
	check_same_records(&st, f->truth, f->truth_n, f->log_first, f->log_end);
	check_stored_free(&st);
}

static size_t flash_record(const struct fake_roller *r, uint32_t number)
{
	size_t off = flash_record_find(r->flash, sizeof(r->flash), number);

	if (off == SIZE_MAX)
		fail_msg("record %u is not in the flash", number);
	return off;
}

/* A bit flipped in the middle of a recorded session (the second one): that
 * record fails its check on the roller and is skipped; everything else,
 * the rest of that session included, is synced. */
static void test_sync_past_a_damaged_record(void **state)
{
	struct fixture *f = *state;
	struct sync_result res;
	struct check_stored st;
	uint32_t victim = 0;

	for (size_t i = 0; i < f->truth_n; i++)
		if (f->truth[i].data[1] == PROTO_TYPE_SESSION && i > 0 && victim == 0 &&
		    f->truth[i].data[PROTO_HEADER_SIZE] == PROTO_SESSION_START)
			victim = f->truth[i].number + 3; /* inside the second session */
	f->roller->flash[flash_record(f->roller, victim) + CORE_RECORD_HEADER + 5] ^= 0x10;
	read_truth(f);
	for (size_t i = 0; i < f->truth_n; i++)
		assert_int_not_equal(f->truth[i].number, victim);

	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_int_equal(res.sessions_written, 3);
	assert_int_equal(res.sessions_incomplete, 1);
	assert_int_equal(res.records, f->truth_n);
	assert_int_equal(res.records_missing, 1);
	assert_int_equal(res.synced_to, f->log_end);
	assert_int_equal(check_read_stored(f->sessions, &st), 0);
	assert_int_equal(st.files, 3);
	assert_false(st.incomplete[0]);
	assert_true(st.incomplete[1]);
	assert_false(st.incomplete[2]);
	check_same_records(&st, f->truth, f->truth_n, f->log_first, f->log_end);
	check_stored_free(&st);
}

/* Already synced: nothing fetched again; a new session alone is fetched. */
static void test_sync_skips_what_is_synced(void **state)
{
	struct fixture *f = *state;
	struct sync_result res;
	uint32_t old_end = f->log_end;

	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_int_equal(res.records, 0);
	assert_int_equal(res.sessions_written, 0);
	assert_int_equal(res.synced_before, f->log_end);

	assert_int_equal(fake_roller_record(f->roller, PROTO_REGION_NECK, 4, 9), 0);
	read_truth(f);
	fake_transport_reset();
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_int_equal(res.sessions_written, 1);
	assert_int_equal(res.records, f->log_end - old_end);
	assert_all_stored(f, f->log_first, f->log_end);
}

/* The roller's flash was erased (or it was reflashed): its record numbers
 * start again below what this host synced. Its sessions are not skipped. */
static void test_sync_log_restarted(void **state)
{
	struct fixture *f = *state;
	struct sync_result res;

	assert_int_equal(sync_state_save(f->state, DEVICE_ID, f->log_end + 1000u), 0);
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_true(res.log_restarted);
	assert_int_equal(res.synced_before, f->log_end + 1000u);
	assert_int_equal(res.sessions_written, 3);
	assert_int_equal(res.records, f->truth_n);
	assert_int_equal(state_of(f), f->log_end);
	assert_all_stored(f, f->log_first, f->log_end);
	/* And the next sync is an ordinary one. */
	fake_transport_reset();
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_false(res.log_restarted);
	assert_int_equal(res.records, 0);
}

/* The state file is gone, the files are not: still no duplicates. */
static void test_sync_lost_state_makes_no_duplicates(void **state)
{
	struct fixture *f = *state;
	struct sync_result res;
	char path[4200];

	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	snprintf(path, sizeof(path), "%s/%08X.sync", f->state, DEVICE_ID);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_int_equal(res.sessions_written, 0);
	assert_int_equal(res.sessions_existing, 3);
	assert_int_equal(state_of(f), f->log_end);
	assert_all_stored(f, f->log_first, f->log_end);
}

static unsigned long chunks_of_clean_sync(struct fixture *f, uint16_t mtu)
{
	struct sync_result res;
	unsigned long n;

	fake_transport_reset();
	fake_transport_env.mtu = mtu;
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	n = fake_transport_env.chunks;
	drop_dirs(f);
	new_dirs(f);
	fake_transport_reset();
	return n;
}

/* The link drops right after chunk k, for every k: the sync resumes from the
 * first byte it lacks and stores exactly the roller's records. */
static void interrupted_at_every_chunk(struct fixture *f, uint16_t mtu)
{
	const unsigned long total = chunks_of_clean_sync(f, mtu);

	assert_true(total > f->truth_n);
	for (unsigned long k = 1; k <= total; k++) {
		struct sync_result res;

		fake_transport_reset();
		fake_transport_env.mtu = mtu;
		fake_transport_env.drop_after_chunk = k;
		assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
		if (fake_transport_env.drops != 1)
			fail_msg("chunk %lu of %lu: %lu drops", k, total, fake_transport_env.drops);
		/* After the last chunk the sync is over before the link drops. */
		assert_int_equal(res.link_losses, k < total ? 1 : 0);
		assert_int_equal(res.sessions_written, 3);
		assert_int_equal(res.records, f->truth_n);
		assert_int_equal(res.synced_to, f->log_end);
		assert_all_stored(f, f->log_first, f->log_end);
		drop_dirs(f);
		new_dirs(f);
	}
	print_message("link dropped after each of %lu chunks (MTU %u): all resumed\n", total, mtu);
}

static void test_sync_link_drop_at_every_chunk_usb(void **state)
{
	interrupted_at_every_chunk(*state, PROTO_USB_MTU);
}

static void test_sync_link_drop_at_every_chunk_mtu23(void **state)
{
	interrupted_at_every_chunk(*state, PROTO_MTU_MIN);
}

static void stop_now(void *userdata)
{
	*(bool *)userdata = true;
}

/* The sync process is killed right after chunk k (its loop stops and the
 * engine is torn down mid-transfer), then run again: every session once. */
static void test_sync_killed_at_every_chunk(void **state)
{
	struct fixture *f = *state;
	unsigned long total = chunks_of_clean_sync(f, PROTO_USB_MTU);

	for (unsigned long k = 1; k <= total; k++) {
		struct sync_result res;
		bool stopped = false;

		fake_transport_reset();
		fake_transport_env.stop_after_chunk = k;
		fake_transport_env.on_stop = stop_now;
		fake_transport_env.stop_userdata = &stopped;
		assert_int_equal(check_run_sync(&f->opt, &res, &stopped), 1);
		fake_transport_reset();
		assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
		assert_int_equal(res.synced_to, f->log_end);
		assert_all_stored(f, f->log_first, f->log_end);
		drop_dirs(f);
		new_dirs(f);
	}
	print_message("sync killed after each of %lu chunks: the next run completed it\n", total);
}

/* A chunk with a bad CRC, or one that never comes, at every position:
 * a gap, a resume, the same records. */
static void test_sync_bad_or_lost_chunk_everywhere(void **state)
{
	struct fixture *f = *state;
	unsigned long total = chunks_of_clean_sync(f, PROTO_USB_MTU);

	for (unsigned long k = 1; k <= total; k++) {
		for (int swallow = 0; swallow < 2; swallow++) {
			struct sync_result res;

			fake_transport_reset();
			if (swallow)
				fake_transport_env.swallow_chunk = k;
			else
				fake_transport_env.corrupt_chunk = k;
			assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
			assert_true(res.resumes >= 1);
			assert_int_equal(res.records, f->truth_n);
			assert_all_stored(f, f->log_first, f->log_end);
			drop_dirs(f);
			new_dirs(f);
		}
	}
}

/* --erase: what was stored is erased on the roller, nothing else. */
static void test_sync_erase(void **state)
{
	struct fixture *f = *state;
	struct sync_result res;
	uint32_t first, end;

	f->opt.erase = true;
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_true(res.erased);
	assert_int_equal(res.erased_below, f->log_end);
	fake_roller_log_info(f->roller, &first, &end);
	assert_int_equal(first, f->log_end);
	assert_int_equal(end, f->log_end);
	assert_all_stored(f, f->log_first, f->log_end);

	/* Nothing left: a second sync with --erase has nothing to do. */
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_int_equal(res.records, 0);
	assert_false(res.erased);
}

/* A session still being recorded is not stored; the roller refuses to
 * erase while it records (BUSY), which the result says; the next sync gets
 * the session whole. */
static void test_sync_leaves_an_open_session(void **state)
{
	struct fixture *f = *state;
	struct sync_result res;
	uint32_t first, end;

	/* Someone is on the roller: an automatic session is open. */
	for (unsigned i = 0; i < 200; i++) {
		fake_roller_sample(f->roller, 300);
		f->roller->n = 0;
	}
	fake_roller_log_info(f->roller, &first, &end);
	assert_true(end > f->log_end);
	f->opt.erase = true;
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_true(res.open_session_left);
	assert_int_equal(res.sessions_written, 3);
	assert_int_equal(res.synced_to, f->log_end);
	assert_false(res.erased);
	assert_int_equal(res.erase_err, -EBUSY);
	fake_roller_log_info(f->roller, &first, &end);
	assert_int_equal(first, f->log_first);

	/* The person gets off; the session ends; the next sync stores it. */
	for (unsigned i = 0; i < 250; i++) {
		fake_roller_sample(f->roller, 0);
		f->roller->n = 0;
	}
	read_truth(f);
	fake_transport_reset();
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_int_equal(res.sessions_written, 1);
	assert_false(res.open_session_left);
	assert_int_equal(res.synced_to, f->log_end);
	assert_true(res.erased);
	assert_all_stored(f, f->truth[0].number, f->log_end);
}

/* The roller goes away for good in the middle: the sessions already stored
 * stay, the error says to run sync again, and that run finishes the job. */
static void test_sync_roller_gone(void **state)
{
	struct fixture *f = *state;
	unsigned long total = chunks_of_clean_sync(f, PROTO_USB_MTU);
	struct sync_result res;

	fake_transport_env.drop_after_chunk = total - 1;
	fake_transport_env.no_reconnect = true;
	f->opt.reconnect_timeout_ms = 200;
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), -ETIMEDOUT);
	assert_non_null(strstr(res.detail, "run roller sync again"));
	assert_true(res.sessions_written >= 1);
	assert_int_equal(state_of(f), res.synced_to);
	fake_transport_reset();
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), 0);
	assert_all_stored(f, f->log_first, f->log_end);
}

/* A roller whose every chunk is broken: the sync gives up with a sentence
 * instead of resuming forever. */
static void test_sync_gives_up_on_a_broken_roller(void **state)
{
	struct fixture *f = *state;
	struct sync_result res;

	fake_transport_env.corrupt_all = true;
	assert_int_equal(check_run_sync(&f->opt, &res, NULL), -EPROTO);
	assert_non_null(strstr(res.detail, "keeps sending a broken transfer"));
	assert_int_equal(res.sessions_written, 0);
	assert_int_equal(sync_state_load(f->state, DEVICE_ID, &res.synced_to), -ENOENT);
}

/* State files: round trip, missing, damaged. */
static void test_sync_state_file(void **state)
{
	struct fixture *f = *state;
	uint32_t v = 0;
	char path[4200];
	FILE *fp;

	assert_int_equal(sync_state_load(f->state, 0x12345678u, &v), -ENOENT);
	assert_int_equal(sync_state_save(f->state, 0x12345678u, 4242u), 0);
	assert_int_equal(sync_state_load(f->state, 0x12345678u, &v), 0);
	assert_int_equal(v, 4242u);
	snprintf(path, sizeof(path), "%s/12345678.sync", f->state);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("garbage\n", fp);
	fclose(fp);
	assert_int_equal(sync_state_load(f->state, 0x12345678u, &v), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync_downloads_every_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_skips_what_is_synced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_across_a_power_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_past_a_damaged_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_log_restarted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_lost_state_makes_no_duplicates, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_link_drop_at_every_chunk_usb, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_link_drop_at_every_chunk_mtu23, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_killed_at_every_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_bad_or_lost_chunk_everywhere, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_erase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_leaves_an_open_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_roller_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_gives_up_on_a_broken_roller, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_state_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
