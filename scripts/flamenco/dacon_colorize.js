// Flamenco job type: colorize a shot with the DACoN engine, split into frame chunks.
//
// Install: copy this file into the `scripts/` folder next to the flamenco-manager
// executable and restart the Manager. Workers that should run it need the engine
// (`dacon` on their PATH, or the `dacon` setting pointing at it) and the task type
// "dacon" in their flamenco-worker.yaml `task_types`.
//
// Each chunk task runs `dacon colorize ... --frames A-B --resume`, so a failed or
// re-queued task redoes only the frames whose outputs are missing or broken.
// keyframe mode: chunks are independent and run in parallel.
// consecutive / nearest modes: a chunk continues the chain from the frame before it,
// so by default each chunk depends on the chunk the chain comes from (set
// `chain_chunks` off to run them in parallel, each chunk starting from the references).

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
        { key: "frames", type: "string", required: true,
          description: "Frame numbers to colorize, e.g. 1-240 or 1-100,120-240" },
        { key: "chunk_size", type: "int32", default: 24, propargs: { min: 1 },
          description: "Frames per task" },
        { key: "mode", type: "string", default: "keyframe",
          choices: ["keyframe", "consecutive", "nearest"],
          description: "Matching mode (see the dacon README)" },
        { key: "anchor_frames", type: "string", default: "",
          description: "nearest mode: frame numbers of the colored references, e.g. 1,120" },
        { key: "chain_chunks", type: "bool", default: true,
          description: "Chained modes: each chunk waits for the chunk its chain comes from" },
        { key: "formats", type: "string", default: "png", description: "png, exr or png,exr" },
        { key: "gap_radius", type: "int32", default: 0, propargs: { min: 0 },
          description: "Close line gaps up to about 2N px" },
        { key: "model", type: "string", default: "default", description: "Model name or checkpoint" },
        { key: "device", type: "string", default: "auto", choices: ["auto", "cpu", "cuda"],
          description: "Compute device on the worker" },
    ],
};

// "1-10, 20,30-40" -> [[1,10],[20,20],[30,40]]; throws on anything else.
function parseFrames(spec) {
    const ranges = [];
    for (const raw of String(spec).split(",")) {
        const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(raw);
        if (!m) throw `frames "${spec}": expected frame numbers and ranges like 1-240`;
        const a = parseInt(m[1], 10);
        const b = m[2] === undefined ? a : parseInt(m[2], 10);
        if (b < a) throw `frames "${spec}": range ${a}-${b} ends before it starts`;
        ranges.push([a, b]);
    }
    return ranges;
}

// Split every range into chunks of at most chunkSize frames, in frame order.
function planChunks(ranges, chunkSize) {
    const size = parseInt(chunkSize, 10);
    if (!(size >= 1)) throw `chunk_size ${chunkSize}: must be 1 or more`;
    const chunks = [];
    const sorted = ranges.slice().sort((x, y) => x[0] - y[0]);
    for (const [a, b] of sorted) {
        for (let s = a; s <= b; s += size) chunks.push([s, Math.min(s + size - 1, b)]);
    }
    return chunks;
}

function nearestAnchor(frame, anchors) {
    let best = anchors[0];
    for (const x of anchors) {
        if (Math.abs(x - frame) < Math.abs(best - frame)) best = x;
    }
    return best;
}

// For each chunk, the indices of the chunks it must wait for.
function chunkDependencies(chunks, mode, anchors, chain) {
    const deps = chunks.map(() => []);
    if (mode === "keyframe" || !chain) return deps;
    if (mode === "consecutive" || anchors.length === 0) {
        for (let i = 1; i < chunks.length; i++) deps[i].push(i - 1);
        return deps;
    }
    // nearest: frames are colored outward from the nearest anchor; a chunk waits for
    // its neighbour on each side where some of its frames' anchors lie beyond it
    chunks.forEach(([a, b], i) => {
        let left = false, right = false;
        for (let f = a; f <= b; f++) {
            const anchor = nearestAnchor(f, anchors);
            if (anchor < a) left = true;
            if (anchor > b) right = true;
        }
        if (left && i > 0) deps[i].push(i - 1);
        if (right && i + 1 < chunks.length) deps[i].push(i + 1);
    });
    return deps;
}

function splitList(text) {
    return String(text || "").split(";").map((s) => s.trim()).filter((s) => s.length > 0);
}

function colorizeArgs(settings, chunk) {
    const args = ["colorize", settings.targets, "--out", settings.output,
                  "--mode", settings.mode, "--format", settings.formats,
                  "--gap-radius", String(settings.gap_radius), "--model", settings.model,
                  "--device", settings.device,
                  "--frames", `${chunk[0]}-${chunk[1]}`, "--resume", "--quiet"];
    for (const ref of splitList(settings.references)) args.push("--ref", ref);
    for (const line of splitList(settings.reference_lines)) args.push("--ref-line", line);
    return args;
}

function compileJob(job) {
    const settings = job.settings;
    const chunks = planChunks(parseFrames(settings.frames), settings.chunk_size);
    const anchors = splitList(String(settings.anchor_frames || "").replace(/,/g, ";"))
        .map((s) => parseInt(s, 10)).filter((n) => !isNaN(n));
    const deps = chunkDependencies(chunks, settings.mode, anchors, settings.chain_chunks);
    const tasks = chunks.map((chunk) => {
        const task = author.Task(`colorize-${chunk[0]}-${chunk[1]}`, "dacon");
        task.addCommand(author.Command("exec", {
            exe: settings.dacon,
            args: colorizeArgs(settings, chunk),
        }));
        return task;
    });
    tasks.forEach((task, i) => {
        for (const d of deps[i]) task.addDependency(tasks[d]);
        job.addTask(task);
    });
}

// For tests under Node (Flamenco's own JavaScript engine has no `module`).
if (typeof module !== "undefined") {
    module.exports = { JOB_TYPE, parseFrames, planChunks, chunkDependencies, colorizeArgs,
                       compileJob };
}
