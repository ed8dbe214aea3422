/* xbar export: a fitted model file as Python modules for other simulators (docs/interop.md):
 *   xbar export aihwkit  MODEL.h5 --device D -o FILE.py   IBM aihwkit noise model + rpu config
 *   xbar export crosssim MODEL.h5 --device D -o FILE.py   Sandia CrossSim parameters + device
 * The written modules depend only on the peer simulator (and numpy/torch it needs), not on
 * xbar.  Everything numeric comes from the model file: the fitted circuit model of the tile
 * (effective wire, driver, sense and series resistances, V0 knots of the read nonlinearity),
 * the programming-error law sigma(G) and, for PCM, the drift and read-noise laws. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "xbar/fit.h"

static const char k_help[] =
    "usage: xbar export aihwkit|crosssim MODEL.h5 --device D -o FILE.py [options]\n"
    "\n"
    "Write a Python module that carries a fitted model file (xbar fit) into another simulator:\n"
    "  aihwkit   IBM aihwkit: a BaseNoiseModel subclass with the fitted programming error\n"
    "            sigma(G) and, for PCM, drift nu(G) and read noise; rpu_config() returns a\n"
    "            TorchInferenceRPUConfig with it and the DAC/ADC resolution and tile size:\n"
    "              analog = convert_to_analog(net, module.rpu_config())\n"
    "  crosssim  Sandia CrossSim: params() returns a CrossSimParameters with the fitted wire,\n"
    "            driver and sense resistances (parasitics), the DAC/ADC resolution, and a device\n"
    "            class with the fitted read nonlinearity, programming error, drift and read noise:\n"
    "              core = AnalogCore(W, module.params())\n"
    "Where the peers' circuits and noise differ from xbar's: docs/interop.md.\n"
    "\n"
    "options:\n"
    "  --device D             linear | rram | pcm | ecram (required)\n"
    "  --cell C               1r | 1t1r | 1s1r                        [1r]\n"
    "  -o, --output FILE      Python module to write (required; - for standard output)\n"
    "  --force                overwrite an existing output file\n"
    "  --tile-rows R, --tile-cols C  the tile (array) size of the circuit model; default: the\n"
    "                         largest fitted model of the device (a size without a fitted model\n"
    "                         is predicted from the file's size family, with a note)\n"
    "  --dac-bits B           input DAC bits (magnitude; the sign is a second phase) [8]\n"
    "  --adc-bits B           output ADC bits (signed)                 [8]\n"
    "  --update-model FILE    aihwkit: the pulse-update models (/update/<device>, xbar fit of a\n"
    "                         campaign with pulse trains) for the training device [MODEL.h5]\n"
    "  -h, --help             this text\n";

typedef struct {
    int have;
    double nu_mean[2], nu_std[2], log_q[2];
    double g_ref_siemens, t0_s, t_read_s, valid_g[2];
} drift_law;

typedef struct {
    int aihwkit; /* 1: aihwkit, 0: crosssim */
    const char *model_path, *out, *update_path;
    xb_device_kind device;
    xb_cell_kind cell;
    size_t rows, cols;
    int dac_bits, adc_bits, force;
} export_opts;

typedef struct {
    xb_fit_params m;
    int from_family;
    int have_sigma;
    xb_fit_sigma sigma;
    drift_law drift;
    char created[64], xbar_version[64];
    xb_update_model *updates; /* aihwkit: the update models of update_path (n_updates) */
    size_t n_updates;
    const xb_update_model *update; /* the device's, or NULL */
} export_data;

/* ------------------------------------------------------------------ reading */
static int read_vec(hid_t f, const char *path, const char *grp, const char *name, size_t n, double *out,
                    xb_error *err)
{
    char full[160];
    snprintf(full, sizeof full, "%s/%s", grp, name);
    double *d = NULL;
    int rk = 0;
    hsize_t dims[4];
    int rc = xb_h5_read_doubles(f, full, &d, &rk, dims, err);
    if (rc) return xb_errorf(err, XB_EINPUT, "%s: /%s: missing or unreadable", path, full);
    size_t cnt = 1;
    for (int k = 0; k < rk; k++) cnt *= (size_t)dims[k];
    if (cnt != n) rc = xb_errorf(err, XB_EINPUT, "%s: /%s: %zu values, expected %zu", path, full, cnt, n);
    for (size_t k = 0; !rc && k < n; k++)
        if (!isfinite(d[k])) rc = xb_errorf(err, XB_EINPUT, "%s: /%s[%zu] is not finite", path, full, k);
    if (!rc) memcpy(out, d, n * sizeof *out);
    free(d);
    return rc;
}

/* /stats/pcm_drift (docs/hdf5-model.md): absent is fine (have = 0), malformed is an error. */
static int read_drift(const char *path, drift_law *d, xb_error *err)
{
    memset(d, 0, sizeof *d);
    hid_t f;
    int rc = xb_h5_open(path, 0, &f, err);
    if (rc) return rc;
    const char *g = "stats/pcm_drift";
    if (xb_h5_exists(f, g)) {
        d->have = 1;
        if (!rc) rc = read_vec(f, path, g, "nu_mean_coef", 2, d->nu_mean, err);
        if (!rc) rc = read_vec(f, path, g, "nu_std_coef", 2, d->nu_std, err);
        if (!rc) rc = read_vec(f, path, g, "log_q_coef", 2, d->log_q, err);
        if (!rc) rc = read_vec(f, path, g, "g_ref_siemens", 1, &d->g_ref_siemens, err);
        if (!rc) rc = read_vec(f, path, g, "t0_s", 1, &d->t0_s, err);
        if (!rc) rc = read_vec(f, path, g, "t_read_noise_s", 1, &d->t_read_s, err);
        if (!rc) rc = read_vec(f, path, g, "valid_g_siemens", 2, d->valid_g, err);
        if (!rc && !(d->g_ref_siemens > 0 && d->t0_s > 0 && d->t_read_s > 0 && d->valid_g[1] > d->valid_g[0]))
            rc = xb_errorf(err, XB_EINPUT, "%s: /%s: g_ref, t0, t_read must be > 0 and valid_g ascending", path, g);
    }
    xb_h5_close(f, NULL);
    return rc;
}

static void read_root_attr(const char *path, const char *name, char *buf, size_t n)
{
    hid_t f;
    xb_error e;
    buf[0] = '\0';
    if (xb_h5_open(path, 0, &f, &e) != XB_OK) return;
    char *v = NULL;
    if (xb_h5_attr_exists(f, ".", name) && xb_h5_attr_get_string(f, ".", name, &v, &e) == XB_OK) {
        snprintf(buf, n, "%s", v);
        free(v);
    }
    xb_h5_close(f, NULL);
}

/* The circuit model: the requested tile size, or the largest fitted model of the device/cell. */
static int pick_model(const export_opts *o, export_data *d, xb_error *err)
{
    xb_array_params p;
    xb_array_params_default(&p, o->device);
    p.cell = o->cell;
    if (o->rows) {
        p.rows = o->rows;
        p.cols = o->cols;
        return xb_fit_file_model_for(o->model_path, &p, &d->m, &d->from_family, err);
    }
    xb_fit_params *ms = NULL;
    size_t n = 0, best = SIZE_MAX;
    int rc = xb_fit_file_read(o->model_path, &ms, NULL, &n, err);
    if (rc) return rc;
    for (size_t k = 0; k < n; k++) {
        const xb_array_params *c = &ms[k].config;
        if (c->device != o->device || c->cell != o->cell) continue;
        if (best == SIZE_MAX || c->rows * c->cols > ms[best].config.rows * ms[best].config.cols) best = k;
    }
    if (best == SIZE_MAX)
        rc = xb_errorf(err, XB_EINPUT, "%s: no model for --device %s --cell %s", o->model_path,
                       xb_device_name(o->device), xb_cell_name(o->cell));
    else
        d->m = ms[best];
    free(ms);
    return rc;
}

static int load(const export_opts *o, export_data *d, xb_error *err)
{
    memset(d, 0, sizeof *d);
    int rc = pick_model(o, d, err);
    if (rc) return rc;
    xb_error e2;
    d->have_sigma = xb_fit_sigma_read(o->model_path, o->device, &d->sigma, &e2) == XB_OK;
    if (o->device == XB_DEVICE_PCM && (rc = read_drift(o->model_path, &d->drift, err))) return rc;
    read_root_attr(o->model_path, "created_utc", d->created, sizeof d->created);
    read_root_attr(o->model_path, "xbar_version", d->xbar_version, sizeof d->xbar_version);
    if (o->aihwkit) {
        if ((rc = xb_fit_update_read_all(o->update_path, &d->updates, &d->n_updates, err))) return rc;
        for (size_t k = 0; k < d->n_updates; k++)
            if (d->updates[k].device == o->device) d->update = &d->updates[k];
    }
    return XB_OK;
}

/* ------------------------------------------------------------------ writing Python */
static void py_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\' || c == '\'') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    fputc('\'', f);
}

static void py_list(FILE *f, const char *name, const double *v, size_t n)
{
    fprintf(f, "%s = [", name);
    for (size_t k = 0; k < n; k++) fprintf(f, "%s%.17g", k ? ", " : "", v[k]);
    fprintf(f, "]\n");
}

/* A docstring-safe copy of a path (no quotes or backslashes that could end the docstring). */
static void doc_path(const char *s, char *buf, size_t n)
{
    size_t o = 0;
    for (; *s && o + 1 < n; s++) buf[o++] = (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) ? '_' : *s;
    buf[o] = '\0';
}

/* FNV-1a of the exported numbers: a class name per export, so that modules exported from two
 * files can be imported into one CrossSim session (it finds device classes by name). */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t k = 0; k < n; k++) h = (h ^ b[k]) * 0x100000001b3ull;
    return h;
}

static void emit_constants(FILE *f, const export_opts *o, const export_data *d)
{
    const xb_fit_params *m = &d->m;
    fprintf(f, "XBAR_VERSION = ");
    py_str(f, xb_version());
    fprintf(f, "\nSOURCE_MODEL_FILE = ");
    py_str(f, o->model_path);
    fprintf(f, "\nDEVICE = '%s'\nCELL = '%s'\n", xb_device_name(o->device), xb_cell_name(o->cell));
    fprintf(f, "TILE_ROWS = %zu\nTILE_COLS = %zu\n", m->config.rows, m->config.cols);
    fprintf(f, "G_MIN_S = %.17g\nG_MAX_S = %.17g\nV_READ_V = %.17g\n", m->config.g_min_siemens,
            m->config.g_max_siemens, m->v_read_volt);
    fprintf(f, "DAC_BITS = %d   # magnitude bits; negative inputs in a second phase (docs/executor.md)\n",
            o->dac_bits);
    fprintf(f, "ADC_BITS = %d   # signed: 2^(B-1) - 1 levels a side\n", o->adc_bits);
    fprintf(f, "T0_S = %.17g      # first read after programming: xbar's time origin of drift\n",
            d->drift.have ? d->drift.t0_s : 20.0);
    fprintf(f, "\n# Programming error: sigma(G) = sum_k SIGMA_COEF[k] G^k (siemens), G held inside\n"
               "# SIGMA_VALID_S, never negative (xbar fit, /stats/sigma_program/%s).\n",
            xb_device_name(o->device));
    if (d->have_sigma) {
        py_list(f, "SIGMA_COEF", d->sigma.coef, d->sigma.n_coef);
        fprintf(f, "SIGMA_VALID_S = (%.17g, %.17g)\n", d->sigma.valid_g_siemens[0], d->sigma.valid_g_siemens[1]);
    } else {
        fprintf(f, "SIGMA_COEF = None   # the model file has no programming-error fit for this device\n"
                   "SIGMA_VALID_S = None\n");
    }
    fprintf(f, "\n# PCM drift and read noise (xbar fit, /stats/pcm_drift): x = ln(G0/G_REF), nu ~\n"
               "# N(nu_mean[0] + nu_mean[1] x, (nu_std[0] + nu_std[1] x)^2) truncated at 0, G(t) = G0\n"
               "# (t/T0)^-nu; read noise sigma/G = exp(log_q[0] + log_q[1] x) sqrt(ln((t + t_r)/(2 t_r))).\n");
    if (d->drift.have) {
        const drift_law *r = &d->drift;
        fprintf(f,
                "DRIFT = {'g_ref_s': %.17g, 'nu_mean': (%.17g, %.17g), 'nu_std': (%.17g, %.17g),\n"
                "         'log_q': (%.17g, %.17g), 't_read_s': %.17g, 'valid_g_s': (%.17g, %.17g)}\n",
                r->g_ref_siemens, r->nu_mean[0], r->nu_mean[1], r->nu_std[0], r->nu_std[1], r->log_q[0],
                r->log_q[1], r->t_read_s, r->valid_g[0], r->valid_g[1]);
    } else {
        fprintf(f, "DRIFT = None   # no fitted drift law for this device: no drift, no read noise\n");
    }
    fprintf(f, "\n\ndef sigma_program_s(g):\n"
               "    \"\"\"Programming-error sigma (S) at conductances g (S; numpy array or torch tensor).\"\"\"\n"
               "    if SIGMA_COEF is None:\n"
               "        return g * 0.0\n"
               "    g = g.clip(SIGMA_VALID_S[0], SIGMA_VALID_S[1])\n"
               "    y = g * 0.0\n"
               "    for c in reversed(SIGMA_COEF):\n"
               "        y = y * g + c\n"
               "    return y.clip(0.0, None)\n");
}

static void emit_aihwkit(FILE *f, const export_opts *o, const export_data *d)
{
    char path[512];
    doc_path(o->model_path, path, sizeof path);
    fprintf(f,
            "\"\"\"IBM aihwkit noise model and RPU configuration of an xbar model file.\n"
            "\n"
            "Written by `xbar export aihwkit` (xbar %s) from %s\n"
            "(created %s by xbar %s), device %s/%s, %zux%zu tiles, DAC %d bit, ADC %d bit.\n"
            "Needs aihwkit (its pure-PyTorch inference tiles) and torch; not xbar.\n"
            "\n"
            "    import this_module as xm\n"
            "    from aihwkit.nn.conversion import convert_to_analog\n"
            "    analog = convert_to_analog(torch_model, xm.rpu_config())\n"
            "    analog.eval()\n"
            "    analog.program_analog_weights()                        # fitted programming error\n"
            "    analog.drift_analog_weights(xm.aihwkit_time(86400.0))  # read 1 day after programming\n"
            "\n"
            "Exported: the programming error sigma(G) fitted by xbar fit (%s); %s;\n"
            "the DAC/ADC resolution; the tile size (aihwkit's mapping max_input_size/max_output_size).\n"
            "Training (pulsed updates): training_device() / training_rpu_config(), the aihwkit step\n"
            "device fitted to the pulse-update model (TRAINING_FAMILY, TRAINING_RESIDUAL; none when\n"
            "the update-model file has no /update/<device>).\n"
            "Not exported (aihwkit's torch tiles have no such model): IR drop, read nonlinearity and\n"
            "the fitted output gain of the circuit model; xbar's per-tile calibrated DAC/ADC ranges\n"
            "(aihwkit scales every input vector to its abs-max and uses a fixed output bound) and its\n"
            "per-column affine correction.  Time: xbar counts from the end of programming with the\n"
            "first read at T0 = 20 s; aihwkit's t_inference counts from T0, so aihwkit_time(t) = t - T0.\n"
            "See docs/interop.md of xbar.\n"
            "\"\"\"\n"
            "import math\n\n"
            "import torch\n"
            "from aihwkit.inference.compensation.drift import GlobalDriftCompensation\n"
            "from aihwkit.inference.converter.conductance import SinglePairConductanceConverter\n"
            "from aihwkit.inference.noise.base import BaseNoiseModel\n"
            "from aihwkit.simulator.configs import TorchInferenceRPUConfig\n\n",
            xb_version(), path, d->created[0] ? d->created : "?", d->xbar_version[0] ? d->xbar_version : "?",
            xb_device_name(o->device), xb_cell_name(o->cell), d->m.config.rows, d->m.config.cols, o->dac_bits,
            o->adc_bits, d->have_sigma ? "/stats/sigma_program" : "none in the model file: no programming error",
            d->drift.have ? "PCM drift nu(G) and read noise (/stats/pcm_drift)" : "no drift or read noise (no fitted law for this device)");
    emit_constants(f, o, d);
    fprintf(f,
            "\n\n"
            "def aihwkit_time(t_s):\n"
            "    \"\"\"aihwkit's t_inference for a read t_s seconds after programming in xbar's time.\"\"\"\n"
            "    return max(float(t_s) - T0_S, 0.0)\n"
            "\n\n"
            "def _x(g_us):\n"
            "    lo, hi = DRIFT['valid_g_s']\n"
            "    return torch.log((g_us * 1e-6).clamp(max(lo, 1e-30), hi) / DRIFT['g_ref_s'])\n"
            "\n\n"
            "class XbarNoiseModel(BaseNoiseModel):\n"
            "    \"\"\"Programming error, drift and read noise fitted by xbar (conductances in uS, as\n"
            "    aihwkit's noise models use them).\"\"\"\n"
            "\n"
            "    def __init__(self, g_converter=None, prog_noise_scale=1.0, read_noise_scale=1.0, drift_scale=1.0):\n"
            "        super().__init__(g_converter or SinglePairConductanceConverter(g_max=G_MAX_S * 1e6,\n"
            "                                                                       g_min=G_MIN_S * 1e6))\n"
            "        self.g_max = getattr(self.g_converter, 'g_max', G_MAX_S * 1e6)\n"
            "        self.prog_noise_scale = prog_noise_scale\n"
            "        self.read_noise_scale = read_noise_scale\n"
            "        self.drift_scale = drift_scale\n"
            "        self.t_0 = T0_S\n"
            "        self.t_read = DRIFT['t_read_s'] if DRIFT else 250e-9\n"
            "\n"
            "    @torch.no_grad()\n"
            "    def apply_programming_noise_to_conductance(self, g_target):\n"
            "        sig = sigma_program_s(g_target * 1e-6) * 1e6\n"
            "        return (g_target + self.prog_noise_scale * sig * torch.randn_like(g_target)).clamp(min=0.0)\n"
            "\n"
            "    @torch.no_grad()\n"
            "    def generate_drift_coefficients(self, g_target):\n"
            "        if DRIFT is None:\n"
            "            return None\n"
            "        x = _x(g_target)\n"
            "        mean = DRIFT['nu_mean'][0] + DRIFT['nu_mean'][1] * x\n"
            "        std = (DRIFT['nu_std'][0] + DRIFT['nu_std'][1] * x).clamp(min=0.0)\n"
            "        return (mean + std * torch.randn_like(g_target)).clamp(min=0.0) * self.drift_scale\n"
            "\n"
            "    @torch.no_grad()\n"
            "    def apply_drift_noise_to_conductance(self, g_prog, drift_noise_param, t_inference):\n"
            "        t = t_inference + self.t_0\n"
            "        g = g_prog\n"
            "        if drift_noise_param is not None and t > self.t_0:\n"
            "            g = g_prog * (t / self.t_0) ** (-drift_noise_param)\n"
            "        if DRIFT is not None and self.read_noise_scale > 0:\n"
            "            f = math.log((t + self.t_read) / (2 * self.t_read))\n"
            "            rel = torch.exp(DRIFT['log_q'][0] + DRIFT['log_q'][1] * _x(g_prog)) * math.sqrt(max(f, 0.0))\n"
            "            g = g + g.abs() * self.read_noise_scale * rel * torch.randn_like(g)\n"
            "        return g.clamp(min=0.0)\n"
            "\n\n"
            "def noise_model(prog_noise_scale=1.0, read_noise_scale=1.0, drift_scale=1.0):\n"
            "    \"\"\"The fitted noise model (an aihwkit BaseNoiseModel).\"\"\"\n"
            "    return XbarNoiseModel(prog_noise_scale=prog_noise_scale, read_noise_scale=read_noise_scale,\n"
            "                          drift_scale=drift_scale)\n"
            "\n\n"
            "def rpu_config(dac_bits=DAC_BITS, adc_bits=ADC_BITS, drift_compensation=True, **noise):\n"
            "    \"\"\"A TorchInferenceRPUConfig: the fitted noise model, the converters (an xbar B-bit\n"
            "    DAC with its sign phase has the step of an aihwkit (B+1)-bit signed input: inp_res =\n"
            "    1/(2^(B+1) - 2); the ADC's 2^(B-1) - 1 levels a side: out_res = 1/(2^B - 2); 0 bits: ideal),\n"
            "    no extra output or weight noise, tiles of TILE_ROWS inputs x TILE_COLS/2 outputs, global\n"
            "    drift compensation.\"\"\"\n"
            "    cfg = TorchInferenceRPUConfig()\n"
            "    cfg.noise_model = noise_model(**noise)\n"
            "    cfg.forward.inp_res = 1.0 / (2 ** (dac_bits + 1) - 2) if dac_bits > 0 else -1.0\n"
            "    cfg.forward.out_res = 1.0 / (2 ** adc_bits - 2) if adc_bits > 0 else -1.0\n"
            "    cfg.forward.out_noise = 0.0\n"
            "    cfg.forward.w_noise = 0.0\n"
            "    cfg.mapping.max_input_size = TILE_ROWS\n"
            "    cfg.mapping.max_output_size = TILE_COLS // 2\n"
            "    cfg.drift_compensation = GlobalDriftCompensation() if drift_compensation else None\n"
            "    return cfg\n");
    xb_cli_export_training(f, d->update, o->update_path, xb_device_name(o->device));
}

static void emit_crosssim(FILE *f, const export_opts *o, const export_data *d)
{
    const xb_fit_params *m = &d->m;
    char path[512];
    doc_path(o->model_path, path, sizeof path);
    /* class name: device + hash of the numbers */
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv1a(h, m, sizeof *m);
    if (d->have_sigma) h = fnv1a(h, &d->sigma, sizeof d->sigma);
    if (d->drift.have) h = fnv1a(h, &d->drift, sizeof d->drift);
    char cls[64];
    snprintf(cls, sizeof cls, "Xbar%c%s_%08x", xb_device_name(o->device)[0] - 32, xb_device_name(o->device) + 1,
             (unsigned)(h >> 32));
    fprintf(f,
            "\"\"\"Sandia CrossSim parameters and device model of an xbar model file.\n"
            "\n"
            "Written by `xbar export crosssim` (xbar %s) from %s\n"
            "(created %s by xbar %s), device %s/%s, circuit model fitted for %zux%zu arrays%s.\n"
            "Needs CrossSim (its `simulator` package) and numpy; not xbar.\n"
            "\n"
            "    import this_module as xm\n"
            "    from simulator import AnalogCore\n"
            "    core = AnalogCore(W, xm.params())      # W: (outputs, inputs) weights\n"
            "    y = core.matvec(x)                     # x in [-1, 1] (xbar's DAC full scale = 1)\n"
            "\n"
            "Exported: the fitted effective wire resistance per segment (rows %.6g, columns %.6g ohm),\n"
            "the driver (%.6g ohm: CrossSim's row terminal) and sense (%.6g ohm: column terminal)\n"
            "resistances; the read nonlinearity I = G v d shc(v d/V0(G))/shc(v_read/V0(G)) with V0 knots\n"
            "and the series divider d = 1/(1 + G r_series) (a CrossSim device nonlinear_current); the\n"
            "programming error sigma(G)%s; %s; DAC (xbar B bits + sign = CrossSim B+1\n"
            "bits, SignMagnitudeDAC) and ADC resolution; the tile size.\n"
            "Where CrossSim 3.2.0 differs (docs/interop.md of xbar): its row terminal resistance is added\n"
            "to every segment of the first input line instead of the first segment of every input line\n"
            "(params(row_terminal=False) leaves it out); G+ and G- sit in two separate arrays (xbar: adjacent\n"
            "columns of one array sharing the input lines); partial tiles are smaller arrays (xbar: full\n"
            "physical tiles with unused cells at g_min); ADC ranges per AnalogCore (xbar: per tile, from a\n"
            "calibration batch); the fitted output gain (%.6g) is not applied.\n"
            "\"\"\"\n"
            "import math\n\n"
            "import numpy as np\n"
            "from simulator import CrossSimParameters\n"
            "from simulator.devices.idevice import EmptyDevice\n"
            "from simulator.parameters.core_parameters import BalancedCoreStyle, CoreStyle, PartitionStrategy\n"
            "from simulator.parameters.xbar_parameters import ADCRangeLimits\n\n",
            xb_version(), path, d->created[0] ? d->created : "?", d->xbar_version[0] ? d->xbar_version : "?",
            xb_device_name(o->device), xb_cell_name(o->cell), m->config.rows, m->config.cols,
            d->from_family ? " (parameters predicted from the size family)" : "", m->r_row_ohm, m->r_col_ohm,
            m->r_driver_ohm, m->r_sense_ohm, d->have_sigma ? "" : " (none in the model file)",
            d->drift.have ? "PCM drift nu(G) and read noise" : "no drift or read noise (no fitted law)", m->gain);
    emit_constants(f, o, d);
    fprintf(f, "\n# The fitted circuit model (xbar fit, /models/..., docs/fit.md)\n");
    fprintf(f, "R_ROW_OHM = %.17g\nR_COL_OHM = %.17g\nR_DRIVER_OHM = %.17g\nR_SENSE_OHM = %.17g\n", m->r_row_ohm,
            m->r_col_ohm, m->r_driver_ohm, m->r_sense_ohm);
    fprintf(f, "R_SERIES_OHM = %.17g\nGAIN = %.17g\nG_REF_S = (%.17g, %.17g)\n", m->r_series_ohm, m->gain,
            m->g_ref_min_siemens, m->g_ref_max_siemens);
    py_list(f, "KNOT_X", m->knot_x, m->n_knots);
    py_list(f, "KNOT_V0_V", m->knot_v0_volt, m->n_knots);
    fprintf(f, "V0_MIN_V = %.17g\n", (double)XB_FIT_V0_MIN_VOLT);
    fprintf(f,
            "\n\n"
            "def _shc(x):\n"
            "    \"\"\"sinh(x)/x (the series where it is exact, as xbar's model).\"\"\"\n"
            "    y = x * x\n"
            "    poly = 1.0 + y * (1.0 / 6 + y * (1.0 / 120 + y * (1.0 / 5040 + y * (1.0 / 362880 + y * (1.0 / 39916800)))))\n"
            "    big = y > 2.25\n"
            "    if not np.any(big):\n"
            "        return poly\n"
            "    xs = np.where(big, x, 1.0)\n"
            "    return np.where(big, np.sinh(xs) / xs, poly)\n"
            "\n\n"
            "def cell_coefficients(g):\n"
            "    \"\"\"a, c of the cell read law I = a v shc(c v) at conductances g (S).\"\"\"\n"
            "    d = 1.0 / (1.0 + g * R_SERIES_OHM)\n"
            "    if KNOT_X:\n"
            "        x = (g - G_REF_S[0]) / (G_REF_S[1] - G_REF_S[0])\n"
            "        k = 1.0 / np.maximum(np.interp(x, KNOT_X, KNOT_V0_V), V0_MIN_V)\n"
            "    else:\n"
            "        k = np.zeros_like(g)\n"
            "    return g * d / _shc(k * V_READ_V), k * d\n"
            "\n\n"
            "def _drift_x(g):\n"
            "    lo, hi = DRIFT['valid_g_s']\n"
            "    return np.log(np.clip(g, max(lo, 1e-30), hi) / DRIFT['g_ref_s'])\n"
            "\n\n"
            "class %s(EmptyDevice):\n"
            "    \"\"\"xbar's fitted device: programming error, drift (time = seconds after programming,\n"
            "    xbar's convention: G(t) = G_prog (t/T0)^-nu), read noise at that time, read nonlinearity.\n"
            "    CrossSim conductances are normalized by G_MAX_S, voltages by V_READ_V.\"\"\"\n"
            "\n"
            "    def programming_error(self, input_):\n"
            "        g = input_ * G_MAX_S\n"
            "        z = np.random.standard_normal(input_.shape)\n"
            "        return (input_ + sigma_program_s(g) / G_MAX_S * z).clip(0, None).astype(input_.dtype)\n"
            "\n"
            "    def drift_error(self, input_, time):\n"
            "        # CrossSim calls drift_error instead of programming_error when time > 0: it includes it\n"
            "        prog = SIGMA_COEF is not None and self.device_params.programming_error.enable\n"
            "        out = self.programming_error(input_) if prog else input_.copy()\n"
            "        if DRIFT is None or not time:\n"
            "            return out\n"
            "        x = _drift_x(out * G_MAX_S)\n"
            "        mean = DRIFT['nu_mean'][0] + DRIFT['nu_mean'][1] * x\n"
            "        std = np.maximum(DRIFT['nu_std'][0] + DRIFT['nu_std'][1] * x, 0.0)\n"
            "        nu = np.maximum(mean + std * np.random.standard_normal(out.shape), 0.0)\n"
            "        return (out * (time / T0_S) ** (-nu)).astype(input_.dtype)\n"
            "\n"
            "    def read_noise(self, input_):\n"
            "        if DRIFT is None or not self.time:\n"
            "            return input_\n"
            "        tr = DRIFT['t_read_s']\n"
            "        f = math.log((self.time + tr) / (2 * tr))\n"
            "        rel = np.exp(DRIFT['log_q'][0] + DRIFT['log_q'][1] * _drift_x(input_ * G_MAX_S)) * math.sqrt(max(f, 0.0))\n"
            "        z = np.random.standard_normal(input_.shape)\n"
            "        return (input_ + np.abs(input_) * rel * z).clip(0, None).astype(input_.dtype)\n"
            "\n"
            "    def nonlinear_current(self, Gmat, Vmat):\n"
            "        a, c = cell_coefficients(Gmat * G_MAX_S)\n"
            "        ex = (Ellipsis,) + (None,) * (Vmat.ndim - Gmat.ndim)\n"
            "        v = Vmat * V_READ_V\n"
            "        return a[ex] * v * _shc(c[ex] * v) / (G_MAX_S * V_READ_V)\n"
            "\n"
            "    def nonlinear_current_sum(self, Gmat, Vterm):\n"
            "        a, c = cell_coefficients(Gmat * G_MAX_S)\n"
            "        v = Vterm * V_READ_V\n"
            "        if v.ndim == 1:\n"
            "            return (a * v[None, :] * _shc(c * v[None, :])).sum(1) / (G_MAX_S * V_READ_V)\n"
            "        return (a[:, :, None] * v[None] * _shc(c[:, :, None] * v[None])).sum(1) / (G_MAX_S * V_READ_V)\n"
            "\n\n"
            "DEVICE_CLASS = %s.__name__\n"
            "\n\n"
            "def params(time_s=0.0, programming_error=True, read_noise=False, nonlinear=True, parasitics=True,\n"
            "           row_terminal=True, dac_bits=DAC_BITS, adc_bits=ADC_BITS, input_range=1.0, adc_range=None,\n"
            "           tolerance=1e-6):\n"
            "    \"\"\"CrossSimParameters of the fitted crossbar.  time_s: seconds after programming (0:\n"
            "    programming error only; > 0: drift to that time, and the read noise of that time when\n"
            "    read_noise).  row_terminal=False leaves out the driver resistance (CrossSim 3.2.0 misplaces\n"
            "    it, docs/interop.md).  input_range: the DAC full scale x_r (inputs in [-x_r, x_r]).\n"
            "    adc_range: (min, max) of the ADC in CrossSim's output units, else the array's maximum range.\n"
            "    tolerance: the parasitics solver's convergence threshold (CrossSim's default 1e-3).\"\"\"\n"
            "    p = CrossSimParameters()\n"
            "    p.core.style = CoreStyle.BALANCED\n"
            "    p.core.balanced.style = BalancedCoreStyle.ONE_SIDED\n"
            "    p.core.balanced.interleaved_posneg = False\n"
            "    p.core.rows_max = TILE_ROWS\n"
            "    p.core.cols_max = TILE_COLS // 2\n"
            "    p.core.mapping.weights.row_partition_strategy = PartitionStrategy.MAX\n"
            "    p.core.mapping.weights.col_partition_strategy = PartitionStrategy.MAX\n"
            "    p.core.mapping.inputs.mvm.min = -float(input_range)\n"
            "    p.core.mapping.inputs.mvm.max = float(input_range)\n"
            "    dev = p.xbar.device\n"
            "    dev.Rmin = 1.0 / G_MAX_S\n"
            "    dev.Rmax = 1.0 / G_MIN_S\n"
            "    dev.Vread = V_READ_V\n"
            "    dev.time = float(time_s)\n"
            "    dev.programming_error.enable = bool(programming_error) and SIGMA_COEF is not None\n"
            "    dev.programming_error.model = DEVICE_CLASS\n"
            "    dev.drift_error.enable = float(time_s) > 0 and (DRIFT is not None or dev.programming_error.enable)\n"
            "    dev.drift_error.model = DEVICE_CLASS\n"
            "    dev.read_noise.enable = bool(read_noise) and DRIFT is not None and float(time_s) > 0\n"
            "    dev.read_noise.model = DEVICE_CLASS\n"
            "    dev.nonlinear_IV.enable = bool(nonlinear) and len(KNOT_X) > 0\n"
            "    dev.nonlinear_IV.model = DEVICE_CLASS\n"
            "    par = p.xbar.array.parasitics\n"
            "    par.enable = bool(parasitics)\n"
            "    par.Rp_row = R_ROW_OHM\n"
            "    par.Rp_col = R_COL_OHM\n"
            "    par.Rp_row_terminal = R_DRIVER_OHM if row_terminal else 0.0\n"
            "    par.Rp_col_terminal = R_SENSE_OHM\n"
            "    p.simulation.Verr_th_mvm = tolerance\n"
            "    p.simulation.Niters_max_parasitics = 1000\n"
            "    if dac_bits > 0:\n"
            "        p.xbar.dac.mvm.model = 'SignMagnitudeDAC'\n"
            "        p.xbar.dac.mvm.bits = dac_bits + 1\n"
            "    if adc_bits > 0:\n"
            "        p.xbar.adc.mvm.model = 'SignMagnitudeADC'\n"
            "        p.xbar.adc.mvm.bits = adc_bits\n"
            "        if adc_range is None:\n"
            "            p.xbar.adc.mvm.adc_range_option = ADCRangeLimits.MAX\n"
            "        else:\n"
            "            p.xbar.adc.mvm.adc_range_option = ADCRangeLimits.CALIBRATED\n"
            "            p.xbar.adc.mvm.calibrated_range = [float(adc_range[0]), float(adc_range[1])]\n"
            "    return p\n",
            cls, cls);
}

/* The module appears whole or not at all (xb_afile, src/common/atomic.c): written to a
 * temporary beside it, every write checked, then renamed; "-" is stdout. */
static int write_module(const export_opts *o, const export_data *d, xb_error *err)
{
    xb_afile *a = NULL;
    int rc = xb_afile_open(o->out, &a, err);
    if (rc) return rc;
    FILE *f = xb_afile_stream(a);
    if (o->aihwkit) emit_aihwkit(f, o, d);
    else emit_crosssim(f, o, d);
    return xb_afile_commit(a, err);
}

static int parse_bits(const char *flag, const char *v, int adc, int *out, xb_error *err)
{
    size_t n;
    if (xb_parse_size(v, flag, &n, err)) return XB_EINPUT;
    if (n > 24 || (adc && n == 1))
        return xb_errorf(err, XB_EINPUT, "%s: %s, got %zu", flag, adc ? "0 (ideal) or 2 to 24" : "0 (ideal) to 24", n);
    *out = (int)n;
    return XB_OK;
}

int xb_cmd_export(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(k_help, stdout);
        return 0;
    }
    export_opts o = {.dac_bits = 8, .adc_bits = 8, .cell = XB_CELL_1R};
    int have_device = 0;
    const char *kind = NULL;
    xb_error err;
    xb_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-o") == 0 || xb_cli_is_flag(a, "--output")) {
            if (!(v = xb_cli_flag_value(argc, argv, &i, a[1] == 'o' ? "-o" : "--output", &err)))
                return xb_cli_usage_error("export", "%s", err.msg);
            o.out = v;
        } else if (xb_cli_is_flag(a, "--update-model")) {
            if (!(o.update_path = xb_cli_flag_value(argc, argv, &i, "--update-model", &err)))
                return xb_cli_usage_error("export", "%s", err.msg);
        } else if (strcmp(a, "--force") == 0) {
            o.force = 1;
        } else if (xb_cli_is_flag(a, "--device")) {
            if (!(v = xb_cli_flag_value(argc, argv, &i, "--device", &err)))
                return xb_cli_usage_error("export", "%s", err.msg);
            if (xb_device_from_name(v, &o.device))
                return xb_cli_usage_error("export", "--device: unknown device '%s' (linear, rram, pcm, ecram)", v);
            have_device = 1;
        } else if (xb_cli_is_flag(a, "--cell")) {
            if (!(v = xb_cli_flag_value(argc, argv, &i, "--cell", &err)))
                return xb_cli_usage_error("export", "%s", err.msg);
            if (xb_cell_from_name(v, &o.cell))
                return xb_cli_usage_error("export", "--cell: unknown cell '%s' (1r, 1t1r, 1s1r)", v);
        } else if (xb_cli_is_flag(a, "--tile-rows") || xb_cli_is_flag(a, "--tile-cols")) {
            const char *flag = xb_cli_is_flag(a, "--tile-rows") ? "--tile-rows" : "--tile-cols";
            size_t n;
            if (!(v = xb_cli_flag_value(argc, argv, &i, flag, &err)) || xb_parse_size(v, flag, &n, &err))
                return xb_cli_usage_error("export", "%s", err.msg);
            if (n < 1 || n > 4096) return xb_cli_usage_error("export", "%s: 1 to 4096", flag);
            if (flag[7] == 'r') o.rows = n;
            else o.cols = n;
        } else if (xb_cli_is_flag(a, "--dac-bits") || xb_cli_is_flag(a, "--adc-bits")) {
            const int adc = xb_cli_is_flag(a, "--adc-bits");
            const char *flag = adc ? "--adc-bits" : "--dac-bits";
            if (!(v = xb_cli_flag_value(argc, argv, &i, flag, &err)) ||
                parse_bits(flag, v, adc, adc ? &o.adc_bits : &o.dac_bits, &err))
                return xb_cli_usage_error("export", "%s", err.msg);
        } else if (a[0] == '-' && a[1]) {
            return xb_cli_usage_error("export", "unknown option '%s'", a);
        } else if (!kind) {
            kind = a;
        } else if (!o.model_path) {
            o.model_path = a;
        } else {
            return xb_cli_usage_error("export", "unexpected argument '%s'", a);
        }
    }
    if (!kind) return xb_cli_usage_error("export", "which simulator: aihwkit or crosssim");
    if (strcmp(kind, "aihwkit") == 0) o.aihwkit = 1;
    else if (strcmp(kind, "crosssim") != 0)
        return xb_cli_usage_error("export", "unknown target '%s' (aihwkit, crosssim)", kind);
    if (!o.model_path) return xb_cli_usage_error("export", "MODEL.h5: required");
    if (!have_device) return xb_cli_usage_error("export", "--device: required");
    if (!o.out) return xb_cli_usage_error("export", "-o FILE.py: required");
    if ((o.rows == 0) != (o.cols == 0)) return xb_cli_usage_error("export", "--tile-rows and --tile-cols: give both");
    if (o.cols % 2) return xb_cli_usage_error("export", "--tile-cols: must be even (differential column pairs)");
    if (o.update_path && !o.aihwkit) return xb_cli_usage_error("export", "--update-model: aihwkit only");
    if (!o.update_path) o.update_path = o.model_path;
    if (!o.force && !xb_output_in_place(o.out) && access(o.out, F_OK) == 0)
        return xb_cli_usage_error("export", "%s: exists (--force overwrites)", o.out);
    export_data d;
    int rc = load(&o, &d, &err);
    if (rc) {
        xb_fit_update_free_all(d.updates, d.n_updates);
        return xb_cli_fail("export", &err);
    }
    if (d.from_family)
        fprintf(stderr, "xbar export: note: %s has no %zux%zu %s model: parameters predicted from its size family\n",
                o.model_path, o.rows, o.cols, xb_device_name(o.device));
    if (!d.have_sigma)
        fprintf(stderr, "xbar export: note: %s has no /stats/sigma_program/%s: no programming error exported\n",
                o.model_path, xb_device_name(o.device));
    if (o.device == XB_DEVICE_PCM && !d.drift.have)
        fprintf(stderr, "xbar export: note: %s has no /stats/pcm_drift: no drift or read noise exported\n",
                o.model_path);
    if (o.aihwkit && !d.update)
        fprintf(stderr, "xbar export: note: %s has no /update/%s: no training device exported\n", o.update_path,
                xb_device_name(o.device));
    char tsum[160] = "";
    if (o.aihwkit) xb_cli_export_training_summary(d.update, tsum, sizeof tsum);
    rc = write_module(&o, &d, &err);
    xb_fit_update_free_all(d.updates, d.n_updates);
    if (rc) return xb_cli_fail("export", &err);
    /* the summary on stderr when the module itself went to stdout */
    fprintf(strcmp(o.out, "-") == 0 ? stderr : stdout, "xbar export %s: %s (%s/%s, %zux%zu model%s%s%s%s)\n", kind,
            o.out, xb_device_name(o.device), xb_cell_name(o.cell), d.m.config.rows, d.m.config.cols,
            d.have_sigma ? ", sigma(G)" : "", d.drift.have ? ", drift and read noise" : "",
            o.aihwkit ? "" : ", parasitics", tsum);
    return 0;
}
