/* test_plugin_host.c - the plugin loader: lookup along INVCLIP_PLUGIN_PATH,
 * every loading error with its exit code and message, parameter parsing and
 * validation, a library holding several plugins, listings.  Uses the fixture
 * libraries built from tests/plugins/ into $TPLUGINS. */
#include <stdlib.h>
#include <string.h>
#include "plugin_host.h"
#include "t.h"

static char tdir[512];

static int open_err(const char *spec, int kind, err_t *e) {
    plugin_t p;
    memset(e, 0, sizeof *e);
    int rc = plugin_open(&p, spec, kind, e);
    if (!rc) plugin_close(&p);
    return rc;
}

int main(void) {
    const char *td = getenv("TPLUGINS");
    if (!td) { CHECK(0, "TPLUGINS is set (run through make test)"); T_DONE(); }
    snprintf(tdir, sizeof tdir, "%s", td);
    setenv("INVCLIP_PLUGIN_PATH", tdir, 1);
    err_t e;
    char spec[600];

    CHECK(open_err("no-such-plugin", 0, &e) == EXIT_PLUGIN && strstr(e.msg, "plugin 'no-such-plugin' not found") &&
              strstr(e.msg, tdir), "missing plugin: %s", e.msg);
    CHECK(open_err("/nonexistent/dir/x.so", 0, &e) == EXIT_PLUGIN && strstr(e.msg, "/nonexistent/dir/x.so: plugin file not found"),
          "missing path: %s", e.msg);
    snprintf(spec, sizeof spec, "%s/t_noentry.so", tdir);
    CHECK(open_err(spec, 0, &e) == EXIT_PLUGIN && strstr(e.msg, "not an invclip plugin") && strstr(e.msg, "t_noentry.so"),
          "no entry point: %s", e.msg);
    CHECK(open_err("t_noentry", 0, &e) == EXIT_PLUGIN && strstr(e.msg, "not an invclip plugin"), "no entry point by name: %s", e.msg);
    CHECK(open_err("t_badabi", 0, &e) == EXIT_PLUGIN && strstr(e.msg, "ABI version 99") &&
              strstr(e.msg, "speaks version 2") && strstr(e.msg, "t_badabi.so"), "ABI mismatch names both versions: %s", e.msg);
    CHECK(open_err("t_oldabi", 0, &e) == EXIT_PLUGIN && strstr(e.msg, "ABI version 1,") &&
              strstr(e.msg, "speaks version 2") && strstr(e.msg, "t_oldabi.so"), "an ABI 1 plugin is refused: %s", e.msg);
    CHECK(open_err("t_baddesc", 0, &e) == EXIT_PLUGIN && strstr(e.msg, "lacks its function table"), "malformed descriptor: %s", e.msg);
    snprintf(spec, sizeof spec, "%s/../test_plugin_host", tdir); /* an executable, not a library */
    CHECK(open_err(spec, 0, &e) == EXIT_PLUGIN && strstr(e.msg, "cannot load plugin"), "not a shared object: %s", e.msg);

    /* a library with two plugins, found by scanning */
    plugin_t p;
    memset(&e, 0, sizeof e);
    CHECK(plugin_open(&p, "t-multi-b", PLUGIN_LOSS, &e) == 0 && !strcmp(p.d->name, "t-multi-b"), "second plugin of a library: %s", e.msg);
    if (p.d) {
        CHECK(plugin_value(&p, "weight")->f == 1.0 && plugin_value(&p, "count")->i == 3 && plugin_value(&p, "flag")->i == 0 &&
                  plugin_value(&p, "mode")->i == 1 && !strcmp(plugin_value(&p, "prompt")->s, "a fish"), "defaults");
        plugin_close(&p);
    }
    CHECK(open_err("t-multi-a", PLUGIN_RENDERER, &e) == EXIT_PLUGIN && strstr(e.msg, "is a loss, not a renderer"),
          "wrong kind: %s", e.msg);
    CHECK(plugin_open(&p, "t-multi-a:weight=2.5,count=5,flag=true,mode=c,prompt=a cat", PLUGIN_LOSS, &e) == 0,
          "parameters parsed: %s", e.msg);
    if (p.d) {
        CHECK(plugin_value(&p, "weight")->f == 2.5 && plugin_value(&p, "count")->i == 5 && plugin_value(&p, "flag")->i == 1 &&
                  plugin_value(&p, "mode")->i == 2 && !strcmp(plugin_value(&p, "prompt")->s, "a cat"), "values");
        plugin_host_t host = {.abi = INVCLIP_PLUGIN_ABI};
        CHECK(plugin_init(&p, &host, &e) == 0, "init");
        float img[4] = {1, 0.5f, 0, 1}, dimg[4] = {0};
        loss_in_t in = {.img = img, .C = 1, .H = 2, .W = 2};
        loss_out_t out = {.dimg = dimg};
        plugin_err_t pe = {{0}};
        CHECK(p.d->loss->eval(p.state, plugin_ws(&p, p.d->loss->ws_size(p.state, &in)), &host, &in, &out, &pe) == 0 &&
                  out.value == 2.5 * 1.5 && dimg[0] == -2.5f, "eval through the ABI: %g", out.value);
        plugin_close(&p);
    }
    struct { const char *spec; const char *want; } bad[] = {
        {"t-multi-a:nope=1", "unknown parameter 'nope' (known: weight, count, flag, mode, prompt)"},
        {"t-multi-a:weight=11", "weight=11 is out of range [0, 10]"},
        {"t-multi-a:weight=abc", "weight='abc' is not a number"},
        {"t-multi-a:count=2.5", "count='2.5' is not an integer"},
        {"t-multi-a:count=0", "count=0 is out of range [1, 5]"},
        {"t-multi-a:flag=maybe", "flag='maybe' is not a boolean"},
        {"t-multi-a:mode=d", "mode='d' is not one of a|b|c"},
        {"t-multi-a:weight", "'weight' is not key=value"},
        {"t-multi-a:weight=nan", "is not a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(open_err(bad[i].spec, 0, &e) == EXIT_USAGE && strstr(e.msg, bad[i].want), "%s -> exit 2 '%s' (got '%s')",
              bad[i].spec, bad[i].want, e.msg);
    /* an init failure carries the plugin's message and code */
    CHECK(plugin_open(&p, "t-multi-a:prompt=fail", 0, &e) == 0, "open before failing init");
    if (p.d) {
        plugin_host_t host = {.abi = INVCLIP_PLUGIN_ABI};
        CHECK(plugin_init(&p, &host, &e) == 4 && strstr(e.msg, "plugin 't-multi-a': prompt 'fail' refused"), "init error: %s", e.msg);
        plugin_close(&p);
    }
    /* listings */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(plugin_cli(0, 1, NULL, PLUGIN_LOSS, f, &e) == 1, "json listing");
    fclose(f);
    CHECK(buf && strstr(buf, "{\"name\":\"t-multi-a\",\"kind\":\"loss\",\"abi\":2") && strstr(buf, "\"choices\":\"a|b|c\"") &&
              !strstr(buf, "t_badabi") && !strstr(buf, "t_oldabi"), "json lines for good plugins only");
    free(buf);
    f = open_memstream(&buf, &len);
    CHECK(plugin_cli(0, 0, "t-multi-b", 0, f, &e) == 1 && (fflush(f), strstr(buf, "Parameters (t-multi-b:key=value,...)")) &&
              strstr(buf, "count  "), "--help-plugin text");
    fclose(f);
    free(buf);
    T_DONE();
}
