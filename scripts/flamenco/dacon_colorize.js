// Flamenco job type: colorize a shot with the DACoN engine in frame chunks.
//
// Install: copy this file into the `scripts/` folder next to the flamenco-manager
// executable and restart the Manager. Workers that should run it need the engine
// (`dacon` on their PATH, or the `dacon` setting pointing at it) and the task type
// "dacon" in their flamenco-worker.yaml `task_types`.
//
// The chunks are planned by the engine itself (`dacon farm`, shared with the Open Job
// Description bundle in scripts/openjd/), against the shot's real frame numbers:
// - task "plan" runs `dacon farm plan`: it checks every input, option and the frame spec
//   and fails the job before any frame is written;
// - tasks "colorize-K" (K = 1..tasks) wait for it and run `dacon farm run --task K`, each
//   colorizing its chunks with --resume (a failed or re-queued task redoes only missing
//   or broken frames). Keyframe chunks spread over the tasks and run in parallel; chunks
//   whose frames chain (consecutive / nearest) share one task, in dependency order, so the
//   frames equal one uninterrupted run.
// See docs/farm.md.

const JOB_TYPE = {
    label: "DACoN Colorize",
    description: "Paint-bucket colorization of line-art frames from colored references",
    settings: [
        { key: "dacon", type: "string", default: "dacon", required: true,
          description: "The dacon command on the workers (path to the engine venv's bin/dacon)" },
        { key: "targets", type: "string", subtype: "dir_path", required: true,
          description: "Line-art folder, or a clip folder with line/ and ref/gt/" },
        { key: "references", type: "string", default: "",
          description: "Colored reference files or folders, separated by ';' (empty: the clip's ref/gt/)" },
        { key: "reference_lines", type: "string", default: "",
          description: "Line art of the references, in the same order, separated by ';'" },
        { key: "output", type: "string", subtype: "dir_path", required: true,
          description: "Output folder for the colored frames" },
        { key: "frames", type: "string", default: "",
          description: "Frame numbers to colorize, e.g. 1-240 or 1-100,120-240 (empty: the whole shot)" },
        { key: "chunk_size", type: "int32", default: 24, propargs: { min: 1 },
          description: "Frames per chunk (at most)" },
        { key: "tasks", type: "int32", default: 4, propargs: { min: 1 },
          description: "Farm tasks the chunks are spread over (parallel in keyframe mode)" },
        { key: "mode", type: "string", default: "keyframe",
          choices: ["keyframe", "consecutive", "nearest"],
          description: "Matching mode (see the dacon README)" },
        { key: "formats", type: "string", default: "png", description: "png, exr or png,exr" },
        { key: "gap_radius", type: "int32", default: 0, propargs: { min: 0 },
          description: "Close line gaps up to about 2N px" },
        { key: "model", type: "string", default: "default", description: "Model name or checkpoint" },
        { key: "device", type: "string", default: "auto", choices: ["auto", "cpu", "cuda"],
          description: "Compute device on the worker" },
    ],
};

// Refuse at submission what the plan task would refuse anyway: a frame spec that is not
// numbers and ranges, or whose ranges overlap (the same words as `dacon farm`).
function checkFrames(spec) {
    const text = String(spec || "").trim();
    if (text === "") return;
    const ranges = [];
    for (const raw of text.split(",")) {
        const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(raw);
        if (!m) throw `--frames '${text}': expected frame numbers and ranges like 1-240`;
        const a = parseInt(m[1], 10);
        const b = m[2] === undefined ? a : parseInt(m[2], 10);
        if (b < a) throw `--frames '${text}': range ${a}-${b} ends before it starts`;
        ranges.push([a, b]);
    }
    ranges.sort((x, y) => x[0] - y[0]);
    const fmt = ([a, b]) => (a === b ? `${a}` : `${a}-${b}`);
    for (let i = 1; i < ranges.length; i++) {
        const [c, d] = ranges[i];
        const [a, b] = ranges[i - 1];
        if (c <= b) {
            throw `--frames '${text}': ranges ${fmt([a, b])} and ${fmt([c, d])} overlap ` +
                  `(frames ${fmt([c, Math.min(b, d)])} twice)`;
        }
    }
}

function positiveInt(value, name) {
    const n = parseInt(value, 10);
    if (!(n >= 1)) throw `${name} ${value}: must be 1 or more`;
    return n;
}

// The `dacon farm ACTION` arguments shared by the plan and the colorize tasks.
function farmArgs(settings, action) {
    const options = ["--format", settings.formats, "--gap-radius", String(settings.gap_radius),
                     "--model", settings.model, "--device", settings.device].join(" ");
    return ["farm", action, settings.targets, `--out=${settings.output}`,
            `--refs=${settings.references || ""}`,
            `--ref-lines=${settings.reference_lines || ""}`, `--mode=${settings.mode}`,
            `--frames=${String(settings.frames || "").trim()}`,
            `--chunk-size=${settings.chunk_size}`, `--tasks=${settings.tasks}`,
            `--colorize-options=${options}`];
}

function compileJob(job) {
    const settings = job.settings;
    checkFrames(settings.frames);
    positiveInt(settings.chunk_size, "chunk_size");
    const tasks = positiveInt(settings.tasks, "tasks");
    const plan = author.Task("plan", "dacon");
    plan.addCommand(author.Command("exec", { exe: settings.dacon, args: farmArgs(settings, "plan") }));
    job.addTask(plan);
    for (let k = 1; k <= tasks; k++) {
        const task = author.Task(`colorize-${k}`, "dacon");
        task.addCommand(author.Command("exec", {
            exe: settings.dacon,
            args: farmArgs(settings, "run").concat([`--task=${k}`]),
        }));
        task.addDependency(plan);
        job.addTask(task);
    }
}

// For tests under Node (Flamenco's own JavaScript engine has no `module`).
if (typeof module !== "undefined") {
    module.exports = { JOB_TYPE, checkFrames, farmArgs, compileJob };
}
