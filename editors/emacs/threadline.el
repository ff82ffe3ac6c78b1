;;; threadline.el --- Browse, follow and continue AI coding-agent sessions -*- lexical-binding: t -*-

;; Copyright (C) 2026 Threadline contributors

;; Author: Threadline contributors
;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1"))
;; Keywords: tools, processes
;; SPDX-License-Identifier: MIT

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A client of `threadline serve', the JSON-RPC server that lists, starts, follows and
;; resumes the sessions of AI coding agents (Claude Code, Codex, Gemini CLI).  One server
;; runs per Emacs, started on first use, over stdio with the built-in jsonrpc.el.
;;
;; M-x threadline-list     the sessions of the current project, refreshed live
;; M-x threadline-open     a session's transcript, following it as the agent writes
;; M-x threadline-start    start a workflow with a prompt
;; M-x threadline-resume   continue a session (any unique id prefix) with a prompt
;;
;; In the list: RET opens, r resumes, f forks, a makes active, x cancels, / filters, g
;; asks the server again.  See docs/editors.md in the Threadline repository.

;;; Code:

(require 'cl-lib)
(require 'jsonrpc)
(require 'parse-time)
(require 'project)
(require 'subr-x)
(require 'tabulated-list)

(defgroup threadline nil
  "Browse, follow and continue AI coding-agent sessions."
  :group 'tools
  :prefix "threadline-")

(defcustom threadline-server-command '("threadline" "serve")
  "The command that runs the Threadline server, as a list of strings."
  :type '(repeat string))

(defcustom threadline-initialization-options nil
  "The server's `initializationOptions', as a plist.
For example (:claudeConfigDir \"~/.claude\").  nil uses the server's defaults."
  :type '(plist :key-type symbol :value-type sexp))

(defcustom threadline-notify-waiting t
  "Non-nil means show a message when a session starts waiting for input."
  :type 'boolean)

(defcustom threadline-list-refreshed-hook nil
  "Hook run in a session list buffer each time its rows change."
  :type 'hook)

(defvar threadline--connection nil "The connection to the server, or nil.")
(defvar threadline--statuses (make-hash-table :test #'equal)
  "Session id to the last status seen, to notice a change to waiting for input.")

;;;; Connection

(defun threadline--message (format-string &rest args)
  "Show FORMAT-STRING with ARGS, prefixed with \"Threadline: \"."
  (message "Threadline: %s" (apply #'format-message format-string args)))

(defun threadline--parse (text)
  "Parse the JSON TEXT as jsonrpc.el does (objects as plists)."
  (json-parse-string text :object-type 'plist :null-object nil :false-object :json-false))

(defun threadline--project ()
  "Return the current project's root (else `default-directory'), as a true name."
  (let ((project (project-current)))
    (directory-file-name
     (file-truename (if project (project-root project) default-directory)))))

(defun threadline--live-p ()
  "Return non-nil when the server is running."
  (and threadline--connection (jsonrpc-running-p threadline--connection)))

(defun threadline--connect ()
  "Return the connection to the server, starting the server on first use."
  (unless (threadline--live-p)
    (let ((program (car threadline-server-command)))
      (unless (and (stringp program) (executable-find program))
        (user-error "Threadline: the server command `%s' was not found; install Threadline or customize `threadline-server-command'"
                    program))
      (let* ((root (threadline--project))
             (uri (concat "file://" root))
             (process (make-process :name "threadline"
                                    :command threadline-server-command
                                    :connection-type 'pipe
                                    :coding 'utf-8-emacs-unix
                                    :noquery t
                                    :stderr (get-buffer-create " *threadline stderr*")))
             (connection (jsonrpc-process-connection
                          :name "threadline"
                          :process process
                          :notification-dispatcher #'threadline--on-notification
                          :request-dispatcher #'threadline--on-request)))
        (setq threadline--connection connection)
        (jsonrpc-request connection :initialize
                         (list :processId (emacs-pid)
                               :clientInfo (list :name "threadline.el")
                               :rootUri uri
                               :capabilities (make-hash-table)
                               :workspaceFolders (vector (list :uri uri :name (file-name-nondirectory root)))
                               :initializationOptions (or threadline-initialization-options
                                                          (make-hash-table))))
        (jsonrpc-notify connection :initialized (make-hash-table)))))
  threadline--connection)

(defun threadline--on-request (_connection _method _params)
  "Answer the server's requests (progress reports) with nothing."
  nil)

(defun threadline--error-text (err)
  "Return the message of the jsonrpc error ERR."
  (or (alist-get 'jsonrpc-error-message (cdr err)) (format "%S" err)))

(defun threadline--request (method params)
  "Send METHOD with PARAMS, wait, and return the result.
A server error becomes a `user-error' carrying the server's sentence."
  (condition-case err
      (jsonrpc-request (threadline--connect) method params)
    (jsonrpc-error (user-error "Threadline: %s" (threadline--error-text err)))))

(defun threadline--async (method params on-result)
  "Send METHOD with PARAMS; call ON-RESULT with the result when it comes."
  (jsonrpc-async-request (threadline--connect) method params
                         :success-fn on-result
                         :error-fn (lambda (err)
                                     (threadline--message "%s" (or (plist-get err :message) err)))))

(defun threadline-shutdown ()
  "Stop the Threadline server."
  (interactive)
  (when (threadline--live-p)
    (jsonrpc-shutdown threadline--connection))
  (setq threadline--connection nil))

(defun threadline--on-notification (_connection method params)
  "Route the server's notification METHOD with PARAMS to the open buffers."
  (let ((session (plist-get params :session)))
    (when session
      (threadline--watch-status session))
    (pcase method
      ('session/removed
       (threadline--list-remove (plist-get params :sessionId))
       (threadline--transcript-removed (plist-get params :sessionId)))
      ((or 'session/detected 'session/updated)
       (threadline--list-upsert session)
       (threadline--transcript-update params)))))

(defun threadline--watch-status (session)
  "Remember SESSION's status, and tell the user when it is now waiting for input."
  (let* ((id (plist-get session :sessionId))
         (status (plist-get session :status))
         (before (gethash id threadline--statuses)))
    (when (and threadline-notify-waiting before
               (equal status "waiting_for_input")
               (not (equal before "waiting_for_input")))
      (threadline--message "%s is waiting for input (%s)"
                           (plist-get session :title) (substring id 0 (min 8 (length id)))))
    (puthash id status threadline--statuses)))

(defun threadline--resolve (prefix)
  "Return the id of the one session of this project whose id begins with PREFIX."
  (let ((prefix (string-trim (or prefix ""))))
    (when (string-empty-p prefix)
      (user-error "Threadline: give a session id (or a unique prefix of one)"))
    (if (>= (length prefix) 32)
        prefix                          ; a whole id: the server judges it
      (let* ((project (threadline--project))
             (sessions (plist-get (threadline--request :session/list (list :cwd project :limit 1000))
                                  :sessions))
             (found (cl-remove-if-not (lambda (s) (string-prefix-p prefix (plist-get s :sessionId)))
                                      (append sessions nil))))
        (pcase (length found)
          (1 (plist-get (car found) :sessionId))
          (0 (user-error "Threadline: no session of %s has an id starting with `%s'" project prefix))
          (n (user-error "Threadline: `%s' is ambiguous: %d sessions start with it" prefix n)))))))

(defun threadline--read-session ()
  "Read a session of the current project, with completion on ids and titles."
  (let* ((sessions (append (plist-get (threadline--request :session/list
                                                            (list :cwd (threadline--project) :limit 1000))
                                      :sessions)
                           nil))
         (choices (mapcar (lambda (s)
                            (cons (format "%s  %s" (substring (plist-get s :sessionId) 0 8) (plist-get s :title))
                                  (plist-get s :sessionId)))
                          sessions))
         (choice (completing-read "Session (id or prefix): " choices)))
    (or (cdr (assoc choice choices)) choice)))

;;;; Session list

(defvar-local threadline--list-project nil "The project folder of this list buffer.")
(defvar-local threadline--list-sessions nil "Session id to SessionInfo, of this list buffer.")
(defvar-local threadline--list-active nil "The project's active session id.")
(defvar-local threadline--list-query nil "The text this list is filtered by, or nil.")
(defvar-local threadline--list-loading nil "Non-nil while the first listing is on its way.")

(defvar threadline-list-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "RET") #'threadline-list-open)
    (define-key map "r" #'threadline-list-resume)
    (define-key map "f" #'threadline-list-fork)
    (define-key map "a" #'threadline-list-activate)
    (define-key map "x" #'threadline-list-cancel)
    (define-key map "/" #'threadline-list-filter)
    map)
  "Keys of `threadline-list-mode'.")

(define-derived-mode threadline-list-mode tabulated-list-mode "Threadline"
  "The sessions of a project, kept up to date by the server.
\\{threadline-list-mode-map}"
  (setq tabulated-list-format [("" 1 nil)
                               ("Id" 8 nil)
                               ("Status" 17 nil)
                               ("Agent" 6 nil)
                               ("Updated" 8 nil)
                               ("Cost" 7 nil :right-align t)
                               ("Title" 0 nil)])
  (setq tabulated-list-padding 0)
  (add-hook 'tabulated-list-revert-hook #'threadline--list-refresh nil t)
  (tabulated-list-init-header))

(defun threadline--relative (iso)
  "Return ISO (an ISO 8601 time) as an age such as \"5m ago\" or \"2d ago\"."
  (if (not (stringp iso))
      "-"
    (let ((ago (max 0 (floor (float-time (time-subtract nil (parse-iso8601-time-string iso)))))))
      (cond ((< ago 60) (format "%ds ago" ago))
            ((< ago 3600) (format "%dm ago" (/ ago 60)))
            ((< ago 86400) (format "%dh ago" (/ ago 3600)))
            (t (format "%dd ago" (/ ago 86400)))))))

(defun threadline--cost (session)
  "Return SESSION's cost in dollars, or \"-\"."
  (let ((cost (plist-get (plist-get session :usage) :costUsd)))
    (if (numberp cost) (format "$%.2f" cost) "-")))

(defun threadline--entry (session active)
  "Return the `tabulated-list-entries' entry of SESSION, marked when ACTIVE."
  (let ((id (plist-get session :sessionId))
        (snippet (plist-get session :snippet)))
    (list id (vector (if active "*" " ")
                     (substring id 0 (min 8 (length id)))
                     (or (plist-get session :status) "")
                     (or (plist-get session :agent) "claude")
                     (threadline--relative (plist-get session :updatedAt))
                     (threadline--cost session)
                     (if (stringp snippet)
                         (format "%s  « %s »" (plist-get session :title)
                                 (replace-regexp-in-string "[ \t\n]+" " " snippet))
                       (or (plist-get session :title) ""))))))

(defun threadline--list-render ()
  "Print this list buffer's sessions, newest first, keeping point on its session."
  (let ((sessions (hash-table-values threadline--list-sessions)))
    (setq sessions (sort sessions (lambda (a b)
                                    (string> (or (plist-get a :updatedAt) "")
                                             (or (plist-get b :updatedAt) "")))))
    (setq tabulated-list-entries
          (mapcar (lambda (s) (threadline--entry s (equal (plist-get s :sessionId) threadline--list-active)))
                  sessions))
    (tabulated-list-print t)
    (run-hooks 'threadline-list-refreshed-hook)))

(defun threadline--list-refresh ()
  "Ask the server for this list buffer's sessions again."
  (let ((buffer (current-buffer)))
    (setq threadline--list-loading t)
    (threadline--async :session/list
                       (append (list :cwd threadline--list-project :limit 1000)
                               (and threadline--list-query (list :query threadline--list-query)))
                       (lambda (result)
                         (when (buffer-live-p buffer)
                           (with-current-buffer buffer
                             (setq threadline--list-loading nil)
                             (clrhash threadline--list-sessions)
                             (seq-doseq (s (plist-get result :sessions))
                               (puthash (plist-get s :sessionId) s threadline--list-sessions)
                               (unless (gethash (plist-get s :sessionId) threadline--statuses)
                                 (puthash (plist-get s :sessionId) (plist-get s :status) threadline--statuses)))
                             (setq threadline--list-active (plist-get result :activeSessionId))
                             (threadline--list-render)))))))

(defun threadline--list-buffers ()
  "Return the live session list buffers."
  (cl-remove-if-not (lambda (b) (eq (buffer-local-value 'major-mode b) 'threadline-list-mode))
                    (buffer-list)))

(defun threadline--list-upsert (session)
  "Show SESSION in the list buffers of its project."
  (dolist (buffer (threadline--list-buffers))
    (with-current-buffer buffer
      (when (equal (plist-get session :cwd) threadline--list-project)
        (let ((id (plist-get session :sessionId)))
          (if (and threadline--list-query (not (gethash id threadline--list-sessions)))
              (threadline--list-refresh) ; does the new session match the filter?
            (puthash id session threadline--list-sessions)
            (when (eq (plist-get session :active) t)
              (setq threadline--list-active id))
            (threadline--list-render)))))))

(defun threadline--list-remove (id)
  "Drop the session ID from the list buffers."
  (dolist (buffer (threadline--list-buffers))
    (with-current-buffer buffer
      (when (gethash id threadline--list-sessions)
        (remhash id threadline--list-sessions)
        (threadline--list-render)))))

;;;###autoload
(defun threadline-list (&optional directory)
  "Show the sessions of the current project (or of DIRECTORY), kept up to date."
  (interactive)
  (let* ((default-directory (or directory default-directory))
         (project (threadline--project))
         (buffer (get-buffer-create (format "*threadline: %s*" (abbreviate-file-name project)))))
    (threadline--connect)
    (with-current-buffer buffer
      (unless (eq major-mode 'threadline-list-mode)
        (threadline-list-mode)
        (setq threadline--list-project project
              threadline--list-sessions (make-hash-table :test #'equal)
              threadline--list-loading t)
        (threadline--list-render)
        (threadline--list-refresh)))
    (pop-to-buffer-same-window buffer)
    buffer))

(defun threadline--list-session ()
  "Return the id of the session on this row."
  (or (tabulated-list-get-id) (user-error "Threadline: put point on a session's row")))

(defun threadline-list-open ()
  "Open the transcript of the session on this row."
  (interactive)
  (threadline-open (threadline--list-session)))

(defun threadline-list-resume (prompt)
  "Continue the session on this row with PROMPT."
  (interactive (list (read-string "Resume with: ")))
  (threadline-resume (threadline--list-session) prompt))

(defun threadline-list-fork (prompt)
  "Fork the session on this row into a new one, continued with PROMPT."
  (interactive (list (read-string "Fork with: ")))
  (threadline-resume (threadline--list-session) prompt t))

(defun threadline-list-activate ()
  "Make the session on this row the project's active session."
  (interactive)
  (let* ((project threadline--list-project)
         (result (threadline--request :session/activate
                                      (list :cwd project :sessionId (threadline--list-session)))))
    (dolist (buffer (threadline--list-buffers))
      (with-current-buffer buffer
        (when (equal threadline--list-project project)
          (setq threadline--list-active (plist-get result :activeSessionId))
          (threadline--list-render))))))

(defun threadline-list-cancel ()
  "Stop the running turn of the session on this row."
  (interactive)
  (let ((result (threadline--request :workflow/cancel (list :sessionId (threadline--list-session)))))
    (threadline--list-upsert (plist-get result :session))
    (threadline--message "cancelled %s" (threadline--list-session))))

(defun threadline-list-filter (text)
  "Show only the sessions whose title or messages contain TEXT (empty: all)."
  (interactive (list (read-string "Filter (empty clears): " threadline--list-query)))
  (setq threadline--list-query (and (not (string-empty-p (string-trim text))) text))
  (setq mode-line-process (and threadline--list-query (format " filter: %s" threadline--list-query)))
  (force-mode-line-update)
  (threadline--list-refresh))

;;;; Transcript

(defvar-local threadline--transcript-id nil "The session id of this transcript buffer.")
(defvar-local threadline--transcript-session nil "The SessionInfo of this transcript buffer.")
(defvar-local threadline--transcript-messages nil "Message index to Message.")
(defvar-local threadline--transcript-offset 0 "Index of the first Message loaded.")
(defvar-local threadline--transcript-streaming nil "The text of the running turn, or nil.")

(define-derived-mode threadline-transcript-mode special-mode "Threadline-Transcript"
  "A session's transcript, following the session live.
Tool calls and results are folded: TAB on their line shows them.
\\{threadline-transcript-mode-map}"
  (setq-local truncate-lines nil)
  (add-hook 'kill-buffer-hook #'threadline--transcript-unfollow nil t))

(define-key threadline-transcript-mode-map (kbd "TAB") #'threadline-transcript-toggle)

(defun threadline-transcript-toggle ()
  "Show or hide the tool call or result on this line."
  (interactive)
  (let ((fold (get-char-property (line-end-position) 'threadline-fold)))
    (if (not (overlayp fold))
        (user-error "Threadline: no folded block on this line")
      (overlay-put fold 'invisible (not (overlay-get fold 'invisible))))))

(defun threadline--transcript-buffers (id)
  "Return the transcript buffer of session ID, or nil."
  (cl-find-if (lambda (b) (equal (buffer-local-value 'threadline--transcript-id b) id))
              (buffer-list)))

(defun threadline--insert-folded (header body)
  "Insert HEADER and, hidden until TAB, BODY."
  (insert header)
  (let ((start (point)))
    (insert "\n" body)
    (let ((fold (make-overlay start (point))))
      (overlay-put fold 'invisible t)
      (overlay-put fold 'threadline-fold fold)
      (overlay-put fold 'before-string (propertize " …" 'face 'shadow))
      (put-text-property (line-beginning-position 0) start 'threadline-fold fold)))
  (insert "\n"))

(defun threadline--insert-block (block)
  "Insert the content BLOCK of a Message."
  (pcase (plist-get block :type)
    ("text" (insert (or (plist-get block :text) "") "\n"))
    ("thinking" (threadline--insert-folded "▸ thinking" (or (plist-get block :text) "")))
    ("tool_use" (threadline--insert-folded
                 (format "▸ tool `%s`" (plist-get block :name))
                 (json-serialize (or (plist-get block :input) (make-hash-table))
                                 :null-object nil :false-object :json-false)))
    ("tool_result" (threadline--insert-folded
                    (if (eq (plist-get block :isError) t) "▸ tool error" "▸ tool result")
                    (or (plist-get block :text) "")))
    ("image" (insert (format "[image %s]\n" (plist-get block :mediaType))))))

(defun threadline--transcript-render ()
  "Print this transcript buffer again; point at the end stays at the end."
  (let* ((inhibit-read-only t)
         (follow (eobp))
         (line (line-number-at-pos))
         (session threadline--transcript-session)
         (last (1- threadline--transcript-offset)))
    (maphash (lambda (index _) (setq last (max last index))) threadline--transcript-messages)
    (erase-buffer)
    (if (not session)
        (insert "# " threadline--transcript-id "\n")
      (insert "# " (or (plist-get session :title) "") "\n"
              (format "%s · %s · %s\n" (plist-get session :sessionId) (plist-get session :status)
                      (or (plist-get session :agent) "claude")))
      (when (stringp (plist-get session :lastError))
        (insert "error: " (plist-get session :lastError) "\n")))
    (when (> threadline--transcript-offset 0)
      (insert (format "\n(%d earlier messages)\n" threadline--transcript-offset)))
    (cl-loop for index from threadline--transcript-offset to last
             for message = (gethash index threadline--transcript-messages)
             when (and message (not (eq (plist-get message :isMeta) t)))
             do (insert (format "\n## %s · %s\n" (plist-get message :role) (plist-get message :timestamp)))
             (seq-doseq (block (plist-get message :content))
               (threadline--insert-block block)))
    (when threadline--transcript-streaming
      (insert "\n## assistant · writing…\n" threadline--transcript-streaming "\n"))
    (if follow
        (goto-char (point-max))
      (goto-char (point-min))
      (forward-line (1- line)))))

(defun threadline--transcript-update (params)
  "Apply a `session/updated' or `session/detected' PARAMS to its transcript buffer."
  (let* ((session (plist-get params :session))
         (buffer (threadline--transcript-buffers (plist-get session :sessionId))))
    (when buffer
      (with-current-buffer buffer
        (setq threadline--transcript-session session)
        (let ((from (plist-get params :appendedFrom))
              (index 0))
          (when (numberp from)
            (seq-doseq (message (plist-get params :appended))
              (puthash (+ from index) message threadline--transcript-messages)
              (setq index (1+ index))))
          (cond ((plist-member params :streaming)
                 ;; null once the text is in the transcript or the turn ended
                 (setq threadline--transcript-streaming
                       (plist-get (plist-get params :streaming) :text)))
                ((or (numberp from) (not (equal (plist-get session :status) "running")))
                 (setq threadline--transcript-streaming nil))))
        (threadline--transcript-render)))))

(defun threadline--transcript-removed (id)
  "Show in the transcript buffer of session ID that nothing of it is left on disk."
  (let ((buffer (threadline--transcript-buffers id)))
    (when buffer
      (with-current-buffer buffer
        (when threadline--transcript-session
          (setq threadline--transcript-session
                (plist-put (copy-sequence threadline--transcript-session) :status "removed")))
        (threadline--transcript-render)))))

(defun threadline--transcript-unfollow ()
  "Tell the server this buffer no longer follows its session."
  (when (and threadline--transcript-id (threadline--live-p))
    (jsonrpc-async-request threadline--connection :session/unfollow
                           (list :sessionId threadline--transcript-id)
                           :success-fn #'ignore :error-fn #'ignore)))

(defun threadline--transcript-show (id &optional session)
  "Show the transcript buffer of session ID, following it.
SESSION is its SessionInfo when the caller has it."
  (let ((buffer (threadline--transcript-buffers id)))
    (unless buffer
      (let ((session (or session (plist-get (threadline--request :session/get (list :sessionId id)) :session))))
        (setq buffer (generate-new-buffer (format "*threadline %s*" (substring id 0 (min 8 (length id))))))
        (with-current-buffer buffer
          (threadline-transcript-mode)
          (setq threadline--transcript-id id
                threadline--transcript-session session
                threadline--transcript-messages (make-hash-table))
          (threadline--transcript-render)
          (threadline--async :session/messages (list :sessionId id :fromEnd t :limit 200 :follow t)
                             (lambda (page)
                               (when (buffer-live-p buffer)
                                 (with-current-buffer buffer
                                   (let ((offset (plist-get page :offset)) (index 0))
                                     (setq threadline--transcript-offset offset)
                                     (seq-doseq (message (plist-get page :messages))
                                       ;; keep what a notification brought while the page was on its way
                                       (unless (gethash (+ offset index) threadline--transcript-messages)
                                         (puthash (+ offset index) message threadline--transcript-messages))
                                       (setq index (1+ index))))
                                   (goto-char (point-max))
                                   (threadline--transcript-render))))))))
    (pop-to-buffer-same-window buffer)
    buffer))

;;;###autoload
(defun threadline-open (id)
  "Open the transcript of session ID (or of the one whose id begins with it)."
  (interactive (list (threadline--read-session)))
  (threadline--transcript-show (threadline--resolve id)))

;;;###autoload
(defun threadline-start (prompt)
  "Start a workflow in the current project with PROMPT and follow it."
  (interactive (list (read-string "Start a workflow with: ")))
  (when (string-empty-p (string-trim prompt))
    (user-error "Threadline: give a prompt"))
  (let ((result (threadline--request :workflow/start (list :cwd (threadline--project) :prompt prompt))))
    (threadline--watch-status (plist-get result :session))
    (threadline--list-upsert (plist-get result :session))
    (threadline--message "started %s" (plist-get result :sessionId))
    (threadline--transcript-show (plist-get result :sessionId) (plist-get result :session))))

;;;###autoload
(defun threadline-resume (id prompt &optional fork)
  "Continue session ID (a unique prefix will do) with PROMPT.
With FORK (interactively, a prefix argument), continue in a new session."
  (interactive (list (threadline--read-session) (read-string "Continue with: ") current-prefix-arg))
  (when (string-empty-p (string-trim prompt))
    (user-error "Threadline: give a prompt"))
  (let* ((full (threadline--resolve id))
         (result (threadline--request :session/resume
                                      (list :sessionId full :prompt prompt :fork (if fork t :json-false)))))
    (threadline--watch-status (plist-get result :session))
    (threadline--list-upsert (plist-get result :session))
    (threadline--message "%s %s" (if fork "forked into" "resumed") (plist-get result :sessionId))
    (threadline--transcript-show (plist-get result :sessionId) (plist-get result :session))))

(provide 'threadline)
;;; threadline.el ends here
